"""Generation tasks judged from the text (closed-book QA, math word problems): greedy or maj1@k.

Each document gets one generation request: greedy (n = 1, temperature 0) for the plain columns, or
n = k samples sharing one prefill for maj1@k. Every completion becomes a normalized answer
(`answer`), the answers are put to a majority vote (evalkit.metrics.majority: ties go to the answer
that reached the top count first), and the winner is judged against the gold (`judge`). The
per-document sample records the number of shots used, all k answers, the vote counts and the winner.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from evalkit.errors import UsageError
from evalkit.metrics.majority import majority_vote
from evalkit.protocol import ProtocolTask, TaskProtocol
from evalkit.requests import GenerateRequest
from evalkit.task import Answer, RunContext, SampleResult

TIE_RULE = "majority vote over normalized answers; a tie goes to the answer that reached the top count first"


@dataclass(frozen=True)
class GenerationProtocol(TaskProtocol):
    until: tuple[str, ...] = ()
    max_new_tokens: int = 256
    n: int = 1                # samples per problem put to the vote (the k of maj1@k); 1 at temperature 0 = greedy
    temperature: float = 0.0
    top_p: float = 1.0
    vote: str = TIE_RULE
    output_type: str = "generate_until"
    decoding: str = "greedy"


def fit_shots(render: Callable[[list], str], shots: list, fits: Callable[[str], bool]) -> str:
    """The prompt with as many of `shots` as fit, dropping them from the end."""
    while True:
        prompt = render(shots)
        if not shots or fits(prompt):
            return prompt
        shots = shots[:-1]


class GenerationTask(ProtocolTask):
    """Subclasses declare `name`, `protocol` and `shot_marker`, read their data, and provide `prompt_for`,
    `answer`, `gold` and `judge`."""
    protocol: GenerationProtocol
    shot_marker: str  # occurs once per shot in a rendered prompt, and nowhere else

    def settings(self) -> set[str]:
        """Greedy tasks draw one sample: --n-samples does not apply to them."""
        names = super().settings()
        return names if self.protocol.temperature > 0 else names - {"n"}

    def check(self, protocol: GenerationProtocol) -> None:
        super().check(protocol)
        if protocol.n < 1:
            raise UsageError(f"{self.name}: n must be at least 1, got {protocol.n}")

    def protocol_dict(self) -> dict:
        p = self.protocol
        decoding = "greedy" if p.temperature == 0 else \
            (f"{p.n} samples per problem at temperature {p.temperature}, top-p {p.top_p}, one shared prefill; "
             "majority vote")
        return super().protocol_dict() | {"decoding": f"{decoding}; stop at {list(p.until)}"}

    def prompt_for(self, doc: dict, doc_id: int, seed: int, fits: Callable[[str], bool]) -> str:
        """The document's prompt with as many of its shots as `fits` allows."""
        raise NotImplementedError

    def answer(self, completion: str) -> str | None:
        """The normalized answer a completion states (None when it states none)."""
        raise NotImplementedError

    def gold(self, doc: dict) -> Any:
        raise NotImplementedError

    def judge(self, doc: dict, answer: str | None, completion: str) -> dict[str, float]:
        """Per-document metrics of the voted answer and the first completion that gave it."""
        raise NotImplementedError

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[GenerateRequest]:
        p = self.protocol

        def fits(prompt: str) -> bool:  # room for max_new_tokens in the window, when the window is known
            return context.max_length is None or context.count_tokens(prompt) + p.max_new_tokens <= context.max_length

        return [GenerateRequest(self.prompt_for(doc, doc_id, seed, fits), p.until, p.max_new_tokens, p.temperature,
                                p.top_p, p.n, seed)]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        (asked,) = answers
        completions = asked.result.texts
        normalized = [self.answer(text) for text in completions]
        vote = majority_vote(normalized)
        completion = completions[vote.winner_index] if vote.winner_index is not None else completions[0]
        extra: dict[str, Any] = {"num_fewshot": asked.request.context.count(self.shot_marker)}
        if len(completions) == 1:
            extra["completion"] = completions[0]
        else:
            extra.update(answers=normalized, votes=vote.counts, winner_completion=completion)
        return SampleResult(doc_id=doc_id, prompt=asked.request.context, target=self.gold(doc),
                            prediction=vote.winner, metrics=self.judge(doc, vote.winner, completion), extra=extra)
