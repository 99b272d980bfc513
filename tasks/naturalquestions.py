"""NaturalQuestions-open (Lee et al. 2019; Kwiatkowski et al. 2019): LLaMA Table 4, closed-book QA.

The 3,610-question dev file is the split the open-domain literature (and LLaMA) reports as NQ's
test set. Records are {"question", "answer": [acceptable strings]}; questions are lower case
without a final "?", which the prompt adds (as lm-eval does). Shots come from NQ-open train (Hub
google-research-datasets/nq_open "train"; with --data-dir, naturalquestions/NQ-open.train.jsonl);
a shot's answer is its first acceptable answer.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.closed_book_qa import ClosedBookQA, qa_protocol
from evalkit.data import field, read_jsonl
from evalkit.errors import DataError
from evalkit.protocol import HubSource

HUB = "google-research-datasets/nq_open"


def nq_doc(where: str, record: dict) -> dict:
    answers = field(record, "answer", where, list)
    if not all(isinstance(a, str) for a in answers):
        raise DataError(f"{where}: field 'answer' must be a list of strings")
    return {"question": field(record, "question", where), "answers": answers, "shot_answer": answers[0]}


class NaturalQuestions(ClosedBookQA):
    name = "naturalquestions"

    def __init__(self, num_fewshot: int = 0):
        self.name = f"naturalquestions_{num_fewshot}shot"
        self.protocol = qa_protocol(
            num_fewshot, hub=HubSource(HUB, None, "validation"), local=("naturalquestions/NQ-open.dev.jsonl",),
            fewshot_hub=HubSource(HUB, None, "train") if num_fewshot else None,
            fewshot_local=("naturalquestions/NQ-open.train.jsonl",) if num_fewshot else (),
            paper_table="Table 4",
            notes="NQ-open dev (3,610 questions), reported as the test set; '?' appended to each question.")
        super().__init__()

    def question(self, doc: dict) -> str:
        question = doc["question"].strip()
        return question if question.endswith("?") else question + "?"

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [nq_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return nq_doc(f"{HUB} row", row)
