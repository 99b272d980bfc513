"""RACE-middle and RACE-high (Lai et al. 2017): LLaMA Table 6, zero-shot, test splits.

The authors' tarball has one JSON file per article (race/test/{middle,high}/N.txt) holding
several questions; each question is one document. GPT-3's format (Brown et al. 2020, Appendix G,
Figures G.1 RACE-h and G.3 RACE-m), which the paper follows: "Article: ...", then the article's
earlier questions, each with the text of its correct option ("Q: ...\\nA: ..."), then the question
asked ("Q: ...\\nA:"), then each option. Cloze questions (with "_") are shown as they are, as in the
figures. The figures' text does not show their line breaks: here Q and A each take one line and a
blank line separates the parts. acc_answer's unconditional context is "A:", the label the prompt
ends with (GPT-3 section 2.4 uses "Answer: " or "A: "). lm-eval's `race` asks only each article's
last question, labels them "Question:"/"Answer:", and writes earlier cloze questions with their
blank filled in; here every question is a document. Files are read in numeric order of their names.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, label_index, read_json
from evalkit.errors import DataError
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

LETTERS = ["A", "B", "C", "D"]
NOTES = ("Format: GPT-3's (Brown et al. 2020, Appendix G, Figures G.1 and G.3): the article, its earlier "
         "questions with their correct options as 'Q: ...'/'A: ...', then the question asked; one document "
         "per question. Normalizer: the paper says it follows Brown et al. (2020) for RACE, and GPT-3 chose "
         "RACE answers by P(choice|context)/P(choice|'A:') (GPT-3 paper, section 2.4), so acc_answer is the "
         "headline; acc and acc_char are reported too.")


def _protocol(level: str, column: str) -> TaskProtocol:
    return TaskProtocol(
        hub=HubSource("ehovy/race", level, "test"),
        local=(f"race/test/{level}",),
        template="race.jinja",
        answer="the four options; gold = the answer letter; earlier questions of the article shown with the "
               "text of their correct option",
        normalizer="answer", rules=("none", "char", "answer"),
        paper_table="Table 6", paper_column=column, notes=NOTES)


def _file_order(path: Path) -> tuple:
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def with_earlier_questions(docs: list[dict]) -> list[dict]:
    """Each document with the questions before it in its article and their correct options (`earlier`)."""
    seen: dict[str, list[dict]] = {}
    out = []
    for doc in docs:
        earlier = seen.setdefault(doc["article_id"], [])
        out.append({**doc, "earlier": list(earlier)})
        earlier.append({"question": doc["question"], "answer": doc["choices"][doc["label"]]})
    return out


class _RACE(MultipleChoiceTask):
    unconditional_context = "A:"

    def _load(self, source, hub, local) -> list[dict]:
        # earlier questions come from the whole split, whichever source (files or Hub rows) it was read from
        return with_earlier_questions(super()._load(source, hub, local))

    def read_local(self, paths: list[Path]) -> list[dict]:
        files = sorted(paths[0].glob("*.txt"), key=_file_order)
        if not files:
            raise DataError(f"{paths[0]}: no article files (*.txt)")
        return [doc for path in files for doc in self._article_docs(path)]

    def _article_docs(self, path: Path) -> list[dict]:
        record = read_json(path)
        where = str(path)
        article, article_id = field(record, "article", where), field(record, "id", where)
        questions = field(record, "questions", where, list)
        options, answers = field(record, "options", where, list), field(record, "answers", where, list)
        if not len(questions) == len(options) == len(answers):
            raise DataError(f"{where}: fields 'questions', 'options', 'answers' differ in length "
                            f"({len(questions)}, {len(options)}, {len(answers)})")
        return [mc_doc(f"{where}: question {i + 1}", option_list,
                       label_index(answer, LETTERS[:len(option_list)], f"{where}: question {i + 1}", "answers"),
                       article_id=article_id, article=article, question=question)
                for i, (question, option_list, answer) in enumerate(zip(questions, options, answers))]

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} {row['example_id']}"
        return mc_doc(where, row["options"], label_index(row["answer"], LETTERS, where, "answer"),
                      article_id=row["example_id"], article=row["article"], question=row["question"])


class RACEMiddle(_RACE):
    name = "race_middle"
    protocol = _protocol("middle", "RACE-middle")


class RACEHigh(_RACE):
    name = "race_high"
    protocol = _protocol("high", "RACE-high")
