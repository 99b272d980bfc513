"""Social IQa (Sap et al. 2019): LLaMA Table 3, zero-shot, dev split (1954 questions).

Format as lm-eval: "Q: {context} {question}\\nA:" then each answer. The authors ship the labels
(1-3) in a separate file aligned by line.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, label_index, read_labelled_jsonl
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

LABELS = ["1", "2", "3"]


class SIQA(MultipleChoiceTask):
    name = "siqa"
    protocol = TaskProtocol(
        hub=HubSource("allenai/social_i_qa", None, "validation"),
        local=("siqa/dev.jsonl", "siqa/dev-labels.lst"),
        fewshot_hub=HubSource("allenai/social_i_qa", None, "train"),
        fewshot_local=("siqa/train.jsonl", "siqa/train-labels.lst"),
        template="siqa.jinja",
        answer="choices answerA, answerB, answerC; gold from dev-labels.lst (1-3)",
        normalizer="char",
        paper_table="Table 3", paper_column="SIQA")

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self._doc(where, record, label) for where, record, label in read_labelled_jsonl(*paths, LABELS)]

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} row"
        return self._doc(where, row, label_index(row["label"], LABELS, where, "label"))

    @staticmethod
    def _doc(where: str, record: dict, label: int) -> dict:
        return mc_doc(where, [field(record, f"answer{x}", where) for x in "ABC"], label,
                      context=field(record, "context", where), question=field(record, "question", where))
