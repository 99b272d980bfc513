"""PIQA (Bisk et al. 2020): LLaMA Table 3, zero-shot, dev split (1838 questions).

GPT-3 format as lm-eval: "Question: {goal}\\nAnswer:" then each solution. The authors ship the
labels in a separate file aligned by line (0 = sol1, 1 = sol2).
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_labelled_jsonl
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc


class PIQA(MultipleChoiceTask):
    name = "piqa"
    protocol = TaskProtocol(
        hub=HubSource("ybisk/piqa", None, "validation"),
        local=("piqa/valid.jsonl", "piqa/valid-labels.lst"),
        fewshot_hub=HubSource("ybisk/piqa", None, "train"), fewshot_local=("piqa/train.jsonl", "piqa/train-labels.lst"),
        template="piqa.jinja",
        answer="choices sol1, sol2; gold from valid-labels.lst (0 or 1)",
        normalizer="char",
        paper_table="Table 3", paper_column="PIQA")

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self._doc(where, record, label) for where, record, label in read_labelled_jsonl(*paths, ["0", "1"])]

    def from_hub(self, row: dict) -> dict:
        return self._doc(f"{self.protocol.hub.path} row", row, row["label"])

    @staticmethod
    def _doc(where: str, record: dict, label: int) -> dict:
        return mc_doc(where, [field(record, "sol1", where), field(record, "sol2", where)], label,
                      goal=field(record, "goal", where))
