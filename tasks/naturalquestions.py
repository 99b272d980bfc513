"""NaturalQuestions-open (Lee et al. 2019; Kwiatkowski et al. 2019): LLaMA Table 4, closed-book QA.

The 3,610-question dev file is the split the open-domain literature (and LLaMA) reports as NQ's
test set. Records are {"question", "answer": [acceptable strings]}; questions are lower case
without a final "?", which the prompt adds (as lm-eval does). Shots come from NQ-open train (Hub
google-research-datasets/nq_open "train"; with --data-dir, naturalquestions/NQ-open.train.jsonl);
a shot's answer is its first acceptable answer. Registered as naturalquestions_{0,1,5,64}shot.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError
from evalkit.protocol import HubSource
from evalkit.task_kinds.closed_book_qa import ClosedBookQA, qa_protocol

HUB = "google-research-datasets/nq_open"


def nq_doc(where: str, record: dict) -> dict:
    answers = field(record, "answer", where, list)
    if not all(isinstance(a, str) for a in answers):
        raise DataError(f"{where}: field 'answer' must be a list of strings")
    return {"question": field(record, "question", where), "answers": answers, "shot_answer": answers[0]}


class NaturalQuestions(ClosedBookQA):
    name = "naturalquestions"
    protocol = qa_protocol(
        hub=HubSource(HUB, None, "validation"), local=("naturalquestions/NQ-open.dev.jsonl",),
        fewshot_hub=HubSource(HUB, None, "train"), fewshot_local=("naturalquestions/NQ-open.train.jsonl",),
        paper_table="Table 4",
        notes="NQ-open dev (3,610 questions), reported as the test set; '?' appended to each question.")

    def question(self, doc: dict) -> str:
        question = doc["question"].strip()
        return question if question.endswith("?") else question + "?"

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [nq_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return nq_doc(f"{HUB} row", row)
