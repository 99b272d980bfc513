"""TriviaQA (Joshi et al. 2017): LLaMA Table 5, closed-book QA on the filtered dev set.

Which set: the paper reports "the filtered dev set", as Gopher and Chinchilla (Hoffmann et al. 2022,
Table 9), which it compares against, label theirs "TriviaQA (filtered, dev)" beside "(unfiltered,
test)". TriviaQA ships two versions: the reading-comprehension ("rc") data, its QA pairs kept only
where the evidence documents contain the answer (the filtered set), and the later "unfiltered" one
(open-domain QA; its dev file holds 11,313 questions). The filtered dev set is therefore the rc dev
questions: the authors' qa/web-dev.json and qa/wikipedia-dev.json, without their evidence (Hub
mandarjoshi/trivia_qa "rc.nocontext" validation, the same two files in name order: 17,944 rows).
TriviaQA splits QA pairs into train/dev/test before pairing them with evidence, so a question is one
dev question even when both evidence domains keep it: the two files list such a question twice
(same QuestionId, same answer), and here it is one document (first occurrence, web file first).
The result has 9,960 questions by a third party's count of the Hub rows (not re-counted here:
../shared holds no TriviaQA); a run records its own n. lm-eval's triviaqa keeps all 17,944 rows.

Records are under "Data", each {"Question", "QuestionId", "Answer": {"Value", "Aliases",
"NormalizedAliases", ...}}. A prediction is correct if it matches any alias or normalized alias; a
shot's answer is the answer's "Value". Shots come from the rc train split (qa/web-train.json,
qa/wikipedia-train.json), deduplicated the same way. Registered as triviaqa_{0,1,5,64}shot.
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


def trivia_doc(question_id: str, question: str, value: str, aliases: list[str], normalized: list[str]) -> dict:
    return {"id": question_id, "question": question.strip(), "answers": list(dict.fromkeys(aliases + normalized)),
            "shot_answer": value.strip()}


def one_per_question(docs: list[dict]) -> list[dict]:
    """The first document of each QuestionId: a question kept in both evidence domains is one question."""
    first: dict[str, dict] = {}
    for doc in docs:
        first.setdefault(doc["id"], doc)
    return list(first.values())


class TriviaQA(ClosedBookQA):
    name = "triviaqa"
    protocol = qa_protocol(
        hub=HubSource(HUB, "rc.nocontext", "validation"),
        local=("triviaqa/qa/web-dev.json", "triviaqa/qa/wikipedia-dev.json"),
        fewshot_hub=HubSource(HUB, "rc.nocontext", "train"),
        fewshot_local=("triviaqa/qa/web-train.json", "triviaqa/qa/wikipedia-train.json"),
        paper_table="Table 5",
        notes="Set: the filtered (rc) dev set, as the TriviaQA paper's filtered data and Gopher/Chinchilla's "
              "'TriviaQA (filtered, dev)': qa/web-dev.json + qa/wikipedia-dev.json without evidence, one document "
              "per QuestionId (a question both evidence domains keep is listed twice there; 17,944 rows, 9,960 "
              "questions by a third party's count); correct if any alias matches.")

    def _load(self, source, hub, local) -> list[dict]:
        # one question, one document, from files or Hub rows alike
        return one_per_question(super()._load(source, hub, local))

    def read_local(self, paths: list[Path]) -> list[dict]:
        docs = []
        for path in paths:
            for i, record in enumerate(field(read_json(path), "Data", str(path), list)):
                where = f"{path}: Data[{i}]"
                if not isinstance(record, dict):
                    raise DataError(f"{where}: expected a JSON object")
                answer = field(record, "Answer", where, dict)
                docs.append(trivia_doc(field(record, "QuestionId", where), field(record, "Question", where),
                                       field(answer, "Value", f"{where}.Answer"),
                                       _strings(answer, "Aliases", f"{where}.Answer"),
                                       _strings(answer, "NormalizedAliases", f"{where}.Answer")))
        return docs

    def from_hub(self, row: dict) -> dict:
        where = f"{HUB} {row.get('question_id')}"
        answer = field(row, "answer", where, dict)
        return trivia_doc(field(row, "question_id", where), field(row, "question", where),
                          field(answer, "value", where), _strings(answer, "aliases", where),
                          _strings(answer, "normalized_aliases", where))
