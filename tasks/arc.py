"""ARC-Easy and ARC-Challenge (Clark et al. 2018): LLaMA Table 3, zero-shot.

GPT-3 format as lm-eval: "Question: {stem}\\nAnswer:" then each choice. Labels are mostly A-D
but some questions use 1-4, and a few have 3 or 5 choices, so the gold answer is looked up
among each question's own labels.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import label_index
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc, read_ai2_questions


def _protocol(config: str, column: str) -> TaskProtocol:
    return TaskProtocol(
        hub=HubSource("allenai/ai2_arc", config, "test"),
        local=(f"arc/{config}/{config}-Test.jsonl",),
        fewshot_hub=HubSource("allenai/ai2_arc", config, "train"), fewshot_local=(f"arc/{config}/{config}-Train.jsonl",),
        template="arc.jinja",
        answer="the text of each choice; gold = answerKey looked up among the question's labels",
        normalizer="char",
        paper_table="Table 3", paper_column=column)


class _ARC(MultipleChoiceTask):
    def read_local(self, paths: list[Path]) -> list[dict]:
        return read_ai2_questions(paths[0])

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} {row['id']}"
        return mc_doc(where, row["choices"]["text"],
                      label_index(row["answerKey"], row["choices"]["label"], where, "answerKey"),
                      id=row["id"], question=row["question"])


class ARCEasy(_ARC):
    name = "arc_easy"
    protocol = _protocol("ARC-Easy", "ARC-e")


class ARCChallenge(_ARC):
    name = "arc_challenge"
    protocol = _protocol("ARC-Challenge", "ARC-c")
