"""BoolQ (Clark et al. 2019): LLaMA Table 3, zero-shot, dev split (3270 questions).

GPT-3 format as lm-eval: "{passage}\\nQuestion: {question}?\\nAnswer:" then " no" / " yes".
The paper follows Brown et al. (2020) here: the answer is chosen by P(choice|context) /
P(choice|"Answer:").
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

CHOICES = ["no", "yes"]


class BoolQ(MultipleChoiceTask):
    name = "boolq"
    protocol = TaskProtocol(
        hub=HubSource("google/boolq", None, "validation"),
        local=("boolq/dev.jsonl",),
        fewshot_hub=HubSource("google/boolq", None, "train"), fewshot_local=("boolq/train.jsonl",),
        template="boolq.jinja",
        answer='choices "no", "yes"; gold = the boolean answer',
        normalizer="answer", rules=("none", "char", "answer"),
        paper_table="Table 3", paper_column="BoolQ")

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self._doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return self._doc(f"{self.protocol.hub.path} row", row)

    @staticmethod
    def _doc(where: str, record: dict) -> dict:
        return mc_doc(where, CHOICES, int(field(record, "answer", where, bool)),
                      passage=field(record, "passage", where), question=field(record, "question", where))
