"""NaturalQuestions-open (Lee et al. 2019; Kwiatkowski et al. 2019): LLaMA Table 4, closed-book QA.

The 3,610-question dev file is the split the open-domain literature (and LLaMA) reports as NQ's
test set. Records are {"question", "answer": [acceptable strings]}; questions are lower case
without a final "?", and are shown as the paper's Figure 3 shows them ("Who sang who wants to be
a millionaire in high society?"): first letter upper case, a final "?". lm-eval's nq_open adds only
the "?"; the rest of the question is left as NQ-open writes it (proper nouns stay lower case).
Shots come from NQ-open train (Hub google-research-datasets/nq_open "train"; with --data-dir,
naturalquestions/NQ-open.train.jsonl); a shot's answer is its first acceptable answer. Registered
as naturalquestions_{0,1,5,64}shot.
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
        notes="NQ-open dev (3,610 questions), reported as the test set. Questions shown as in the paper's "
              "Figure 3: first letter upper case and a final '?' (NQ-open writes them lower case without one).")

    def question(self, doc: dict) -> str:
        question = doc["question"].strip()
        question = question[:1].upper() + question[1:]
        return question if question.endswith("?") else question + "?"

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [nq_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return nq_doc(f"{HUB} row", row)
