"""OpenBookQA (Mihaylov et al. 2018): LLaMA Table 3, zero-shot, Main test split (500 questions).

Format as lm-eval: the question stem alone, then each choice. The paper follows Brown et al.
(2020) here: the answer is chosen by P(choice|context) / P(choice|"Answer:"). Documents carry
no id: the local copy's ids ("test-N") are not the authors' ids that the Hub has.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import label_index
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc, read_ai2_questions


class OpenBookQA(MultipleChoiceTask):
    name = "openbookqa"
    protocol = TaskProtocol(
        hub=HubSource("allenai/openbookqa", "main", "test"),
        local=("openbookqa/Main/test.jsonl",),
        fewshot_hub=HubSource("allenai/openbookqa", "main", "train"), fewshot_local=("openbookqa/Main/train.jsonl",),
        template="openbookqa.jinja",
        answer="the text of each choice; gold = answerKey looked up among the labels",
        normalizer="answer", rules=("none", "char", "answer"),
        paper_table="Table 3", paper_column="OBQA")

    def read_local(self, paths: list[Path]) -> list[dict]:
        # the reconstructed test file's ids (test-N) are not the authors', so documents carry none and
        # both sources give the same documents
        return read_ai2_questions(paths[0], keep_id=False)

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} {row['id']}"
        return mc_doc(where, row["choices"]["text"],
                      label_index(row["answerKey"], row["choices"]["label"], where, "answerKey"),
                      question=row["question_stem"])
