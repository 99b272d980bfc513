"""Generation tasks judged from the text (closed-book QA, math word problems): greedy or maj1@k.

Each document gets one generation request: greedy (k = 1, temperature 0) for the plain columns, or
k samples sharing one prefill for maj1@k. Every completion becomes a normalized answer (`answer`),
the answers are put to a majority vote (evalkit.metrics.majority: ties go to the answer that reached
the top count first), and the winner is judged against the gold (`judge`). The per-document sample
records all k answers, the vote counts and the winner.

Documents carry an `id`: the benchmark's own where it has one, else the document's index in the
benchmark's canonical order, as a string. It names the document in generations files.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from evalkit.metrics.majority import majority_vote
from evalkit.protocol import ProtocolTask, TaskProtocol
from evalkit.requests import GenerateRequest, GenerateResult
from evalkit.task import SampleResult

TIE_RULE = "majority vote over normalized answers; a tie goes to the answer that reached the top count first"


@dataclass(frozen=True)
class GenerationProtocol(TaskProtocol):
    until: tuple[str, ...] = ()
    max_new_tokens: int = 256
    k: int = 1                      # samples per problem put to the vote (maj1@k); 1 with temperature 0 = greedy
    temperature: float = 0.0
    top_p: float = 1.0
    vote: str = TIE_RULE
    output_type: str = "generate_until"
    decoding: str = "greedy"


def fit_shots(render: Callable[[list], str], shots: list, fits: Callable[[str], bool]) -> tuple[str, int]:
    """The prompt with as many of `shots` as fit (dropping from the end), and how many were kept."""
    while True:
        prompt = render(shots)
        if not shots or fits(prompt):
            return prompt, len(shots)
        shots = shots[:-1]


class GenerationTask(ProtocolTask):
    """Subclasses declare `name` and `protocol`, read their data, and provide `context`, `answer`, `judge`."""
    protocol: GenerationProtocol
    max_tokens: int | None = None                  # the model's window, when the runner knows it
    count_tokens: Callable[[str], int] | None = None

    def __init__(self, k: int | None = None):
        if k is not None:
            if k < 1:
                raise ValueError(f"{self.name}: k must be at least 1")
            self.protocol = dataclasses.replace(self.protocol, k=k)

    def set_context_limit(self, max_tokens: int, count_tokens: Callable[[str], int]) -> None:
        """The model's window and token counter, so that shots can be dropped until the prompt fits."""
        self.max_tokens, self.count_tokens = max_tokens, count_tokens

    def fits(self, prompt: str) -> bool:
        """Whether `prompt` leaves room for max_new_tokens in the window (always, when it is unknown)."""
        if self.max_tokens is None or self.count_tokens is None:
            return True
        return self.count_tokens(prompt) + self.protocol.max_new_tokens <= self.max_tokens

    def docs(self, source, limit: int | None = None) -> list[dict]:
        docs = super().docs(source)
        for index, doc in enumerate(docs):
            doc.setdefault("id", str(index))
        return docs[:limit] if limit is not None else docs

    def doc_key(self, doc: dict) -> str:
        """The id that names the document in generations files."""
        return doc["id"]

    def context(self, doc: dict, doc_id: int, seed: int) -> tuple[str, int]:
        """The prompt and the number of shots in it."""
        raise NotImplementedError

    def answer(self, completion: str) -> str | None:
        """The normalized answer a completion states (None when it states none)."""
        raise NotImplementedError

    def gold(self, doc: dict) -> Any:
        raise NotImplementedError

    def judge(self, doc: dict, answer: str | None, completion: str) -> dict[str, float]:
        """Per-document metrics of the voted answer and the first completion that gave it."""
        raise NotImplementedError

    def requests(self, doc: dict, doc_id: int, seed: int) -> list[GenerateRequest]:
        p = self.protocol
        return [GenerateRequest(self.context(doc, doc_id, seed)[0], p.until, p.max_new_tokens, p.temperature,
                                p.top_p, p.k, seed)]

    def process(self, doc: dict, doc_id: int, seed: int, results: list[GenerateResult]) -> SampleResult:
        prompt, shots = self.context(doc, doc_id, seed)
        completions = results[0].texts
        answers = [self.answer(text) for text in completions]
        vote = majority_vote(answers)
        completion = completions[vote.winner_index] if vote.winner_index is not None else completions[0]
        extra: dict[str, Any] = {"task_id": self.doc_key(doc), "num_fewshot": shots}
        if self.protocol.k == 1:
            extra["completion"] = completions[0]
        else:
            extra.update(answers=answers, votes=vote.counts, winner_completion=completion)
        return SampleResult(doc_id=doc_id, prompt=prompt, target=self.gold(doc), prediction=vote.winner,
                            metrics=self.judge(doc, vote.winner, completion), extra=extra)
