"""HellaSwag (Zellers et al. 2019): LLaMA Table 3, zero-shot, validation split (10042 contexts).

Format and cleaning as lm-eval: "{activity_label}: {ctx_a} {ctx_b capitalized}" then each ending,
with WikiHow markup removed from context and endings alike (`clean`). The local file was already
cleaned (see shared/data/MANIFEST.md); cleaning is idempotent on it, and is what Hub rows need.
In that file ctx_b is empty and its text sits, uncapitalized, at the end of ctx_a.
"""
from __future__ import annotations

import re
from pathlib import Path

from evalkit.data import field, label_index, read_jsonl
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

LABELS = ["0", "1", "2", "3"]


def clean(text: str) -> str:
    """lm-eval's HellaSwag preprocessing: drop [header]/[step]/... tags, " [title]" becomes ". "."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


class HellaSwag(MultipleChoiceTask):
    name = "hellaswag"
    protocol = TaskProtocol(
        hub=HubSource("Rowan/hellaswag", None, "validation"),
        local=("hellaswag/hellaswag_val.jsonl.gz",),
        fewshot_hub=HubSource("Rowan/hellaswag", None, "train"), fewshot_local=("hellaswag/hellaswag_train.jsonl",),
        template="hellaswag.jinja",
        answer="the four cleaned endings; gold = label",
        normalizer="char",
        paper_table="Table 3", paper_column="HellaSwag")

    def context(self, doc: dict) -> str:
        return clean(self.prompt.render(**doc))

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self._doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return self._doc(f"{self.protocol.hub.path} row {row.get('ind')}", row)

    @staticmethod
    def _doc(where: str, record: dict) -> dict:
        endings = field(record, "endings", where, list)
        return mc_doc(where, [clean(e) for e in endings],
                      label_index(field(record, "label", where, (str, int)), LABELS, where, "label"),
                      activity_label=field(record, "activity_label", where),
                      ctx_a=field(record, "ctx_a", where), ctx_b=field(record, "ctx_b", where))
