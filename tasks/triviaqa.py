"""TriviaQA (Joshi et al. 2017): LLaMA Table 5, closed-book QA on the filtered dev set.

The paper's "filtered dev set" is the reading-comprehension ("rc") dev questions without their
evidence: Hub mandarjoshi/trivia_qa "rc.nocontext" validation (17,944 questions), which is the
authors' qa/web-dev.json then qa/wikipedia-dev.json (the Hub builder reads the qa/*-dev.json files
in name order; the small verified-*.json subsets are not part of it). Records are under "Data",
each {"Question", "QuestionId", "Answer": {"Value", "Aliases", "NormalizedAliases", ...}}; a
question may appear in both files (once per evidence domain), as on the Hub. A prediction is
correct if it matches any alias or normalized alias; a shot's answer is the answer's "Value".
Shots come from the rc train split (qa/web-train.json, qa/wikipedia-train.json). Registered as
triviaqa_{0,1,5,64}shot.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_json
from evalkit.errors import DataError
from evalkit.protocol import HubSource
from evalkit.task_kinds.closed_book_qa import ClosedBookQA, qa_protocol

HUB = "mandarjoshi/trivia_qa"


def _strings(record: dict, name: str, where: str) -> list[str]:
    values = field(record, name, where, list)
    if not all(isinstance(v, str) for v in values):
        raise DataError(f"{where}: field '{name}' must be a list of strings")
    return [v.strip() for v in values]


def trivia_doc(question: str, value: str, aliases: list[str], normalized: list[str]) -> dict:
    return {"question": question.strip(), "answers": list(dict.fromkeys(aliases + normalized)),
            "shot_answer": value.strip()}


class TriviaQA(ClosedBookQA):
    name = "triviaqa"
    protocol = qa_protocol(
        hub=HubSource(HUB, "rc.nocontext", "validation"),
        local=("triviaqa/qa/web-dev.json", "triviaqa/qa/wikipedia-dev.json"),
        fewshot_hub=HubSource(HUB, "rc.nocontext", "train"),
        fewshot_local=("triviaqa/qa/web-train.json", "triviaqa/qa/wikipedia-train.json"),
        paper_table="Table 5",
        notes="filtered (rc) dev set without evidence, 17,944 questions; correct if any alias matches.")

    def read_local(self, paths: list[Path]) -> list[dict]:
        docs = []
        for path in paths:
            for i, record in enumerate(field(read_json(path), "Data", str(path), list)):
                where = f"{path}: Data[{i}]"
                if not isinstance(record, dict):
                    raise DataError(f"{where}: expected a JSON object")
                answer = field(record, "Answer", where, dict)
                docs.append(trivia_doc(field(record, "Question", where), field(answer, "Value", f"{where}.Answer"),
                                       _strings(answer, "Aliases", f"{where}.Answer"),
                                       _strings(answer, "NormalizedAliases", f"{where}.Answer")))
        return docs

    def from_hub(self, row: dict) -> dict:
        where = f"{HUB} {row.get('question_id')}"
        answer = field(row, "answer", where, dict)
        return trivia_doc(field(row, "question", where), field(answer, "value", where),
                          _strings(answer, "aliases", where), _strings(answer, "normalized_aliases", where))
