"""OpenBookQA (Mihaylov et al. 2018): LLaMA Table 3, zero-shot, Main test split (500 questions).

Format as lm-eval: the question stem alone, then each choice. The paper follows Brown et al.
(2020) here: the answer is chosen by P(choice|context) / P(choice|"Answer:"). Documents carry
no id: the local copy's ids ("test-N") are not the authors' ids that the Hub has.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, label_index, read_jsonl
from evalkit.multiple_choice import MultipleChoiceTask, mc_doc
from evalkit.protocol import HubSource, TaskProtocol


class OpenBookQA(MultipleChoiceTask):
    name = "openbookqa"
    protocol = TaskProtocol(
        hub=HubSource("allenai/openbookqa", "main", "test"),
        local=("openbookqa/Main/test.jsonl",),
        template="openbookqa.jinja",
        answer="the text of each choice; gold = answerKey looked up among the labels",
        normalizer="answer", rules=("none", "char", "answer"),
        paper_table="Table 3", paper_column="OBQA")

    def read_local(self, paths: list[Path]) -> list[dict]:
        docs = []
        for where, record in read_jsonl(paths[0]):
            question = field(record, "question", where, dict)
            choices = field(question, "choices", where, list)
            labels = [field(c, "label", where) for c in choices]
            docs.append(mc_doc(where, [field(c, "text", where) for c in choices],
                               label_index(field(record, "answerKey", where), labels, where, "answerKey"),
                               question=field(question, "stem", where)))
        return docs

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} {row['id']}"
        return mc_doc(where, row["choices"]["text"],
                      label_index(row["answerKey"], row["choices"]["label"], where, "answerKey"),
                      question=row["question_stem"])
