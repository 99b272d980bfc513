"""Closed-book question answering (LLaMA Tables 4 and 5): NaturalQuestions and TriviaQA.

As the paper's Figure 3: "Answer these questions:" then "Q: {question}\\nA: {answer}" per shot, then
"Q: {question}\\nA:"; greedy decoding stopped at the first line break, dot or comma; exact match
after SQuAD normalization against any gold answer (every alias for TriviaQA). Shots are drawn from
the benchmark's train split with (seed, document index); where k shots do not fit the window, shots
are dropped from the end until they do, and the number used is recorded per document. One task
class serves every shot count: the registry names each (naturalquestions_0shot ... _64shot).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from evalkit.errors import DataError
from evalkit.fewshot import sample_fewshot
from evalkit.metrics.exact_match import exact_match, normalize_answer
from evalkit.task import DataSource
from evalkit.task_kinds.generation import GenerationProtocol, GenerationTask, fit_shots

UNTIL = ("\n", ".", ",")
MAX_NEW_TOKENS = 32  # gold answers are a few words (NQ-open keeps answers of at most five tokens)


def qa_protocol(**fields) -> GenerationProtocol:
    return GenerationProtocol(
        template="closed_book_qa.jinja", normalizer="exact_match", rules=("exact_match",),
        until=UNTIL, max_new_tokens=MAX_NEW_TOKENS, fewshot_sampler="seeded", paper_column="0-shot",
        answer="greedy completion up to the first line break, dot or comma; exact match (lowercase, no "
               "punctuation, no articles a/an/the, whitespace collapsed) with any gold answer", **fields)


class ClosedBookQA(GenerationTask):
    """Documents are {"question", "answers": [gold strings], "shot_answer"}."""
    shot_marker = "\nA: "  # each shot's answer line; the question's own "A:" ends the prompt

    def protocol_dict(self) -> dict:
        return super().protocol_dict() | {"paper_column": f"{self.protocol.num_fewshot}-shot"}

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        self.check_source(source)
        return super().docs(source, limit)

    def check_source(self, source: DataSource) -> None:
        """Few-shot runs from --data-dir need the train file(s): say which, before any work is spent."""
        if self.protocol.num_fewshot == 0 or source.data_dir is None:
            return
        missing = [Path(source.data_dir) / rel for rel in self.protocol.fewshot_local
                   if not (Path(source.data_dir) / rel).is_file()]
        if missing:
            raise DataError(f"{self.name}: {self.protocol.num_fewshot}-shot runs need the train split "
                            f"{', '.join(map(str, missing))} (zero-shot runs need no train file)")

    def question(self, doc: dict) -> str:
        return doc["question"]

    def prompt_for(self, doc: dict, doc_id: int, seed: int, fits: Callable[[str], bool]) -> str:
        k = self.protocol.num_fewshot
        shots = sample_fewshot(self.fewshot_pool(), k, seed, doc_id, doc) if k else []
        shots = [{"question": self.question(s), "answer": s["shot_answer"]} for s in shots]
        return fit_shots(lambda kept: self.prompt.render(shots=kept, question=self.question(doc)), shots, fits)

    def answer(self, completion: str) -> str | None:
        return normalize_answer(completion) or None

    def gold(self, doc: dict) -> list[str]:
        return doc["answers"]

    def judge(self, doc: dict, answer: str | None, completion: str) -> dict[str, float]:
        return {"exact_match": float(answer is not None and exact_match(answer, doc["answers"]))}
