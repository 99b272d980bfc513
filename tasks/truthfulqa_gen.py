"""TruthfulQA generation (Lin et al. 2022): LLaMA Table 14, all 817 questions.

The "QA prompt" (the six-question primer of the TruthfulQA paper, as Ouyang et al. 2022 use it; the
same template as `truthfulqa_mc`), greedy decoding, stopping at the end of the answer (a blank line
or a next "Q:"). Each answer is judged truthful and informative by two judge models in GPT-judge's
format (evalkit/scorers/judge.py), chosen with --truth-judge and --info-judge; without both the run
stops before generating. Metrics: `truthful` and `truthful_informative` (the paper's two columns),
and `informative`; the judges are named in results.json.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.data import field, read_table
from evalkit.errors import DataError
from evalkit.protocol import HubSource, ProtocolTask, TaskProtocol
from evalkit.requests import GenerateRequest
from evalkit.task import Answer, RunContext, SampleResult

JUDGES = ("truth", "info")


@dataclass(frozen=True)
class TruthfulQAProtocol(TaskProtocol):
    until: tuple[str, ...] = ("\n\n", "\nQ:")
    max_new_tokens: int = 64
    truth_judge: str | None = None   # BACKEND:MODEL[@URL] (evalkit/scorers/judge.py)
    info_judge: str | None = None
    output_type: str = "generate_until"


class TruthfulQAGen(ProtocolTask):
    name = "truthfulqa_gen"
    protocol = TruthfulQAProtocol(
        hub=HubSource("truthful_qa", "generation", "validation"),
        local=("truthfulqa/TruthfulQA.csv",),
        template="truthfulqa.jinja",
        answer="the generated answer, judged by the truth and info judges (P(' yes') >= 0.5)",
        normalizer="truthful_informative",
        paper_table="Table 14", paper_column="TruthfulQA",
        rules=("truthful", "truthful_informative", "informative"),
        decoding="greedy until a blank line or '\\nQ:', at most max_new_tokens",
        notes="GPT-judge format; the paper's GPT-3 judges are retired, so numbers depend on the judges named")

    def protocol_dict(self) -> dict:
        """The judges in the report's terms (reports/table_specs.json paper_protocol.scorer is the paper's
        GPT-judge, which no judge named here is)."""
        p = self.protocol
        return super().protocol_dict() | {"scorer": f"judges:{p.truth_judge}/{p.info_judge}"}

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[GenerateRequest]:
        p = self.protocol
        return [GenerateRequest(self.prompt.render(question=doc["question"]), p.until, p.max_new_tokens, 0.0, 1.0, 1, seed)]

    def scorers(self) -> dict[str, dict]:
        return {f"{kind}_judge": {"kind": kind, "judge": getattr(self.protocol, f"{kind}_judge")} for kind in JUDGES}

    def scorer_inputs(self, scorer: str, doc: dict, answer: Answer) -> list[tuple[str, str]]:
        return [(doc["question"], text.strip()) for text in answer.result.texts]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        (answer,) = answers
        truth, info = (answer.judgements[f"{kind}_judge"][0] for kind in JUDGES)
        return SampleResult(doc_id=doc_id, prompt=answer.request.context, target=doc["best_answer"],
                            prediction=answer.result.texts[0].strip(),
                            metrics={"truthful": float(truth.verdict), "informative": float(info.verdict),
                                     "truthful_informative": float(truth.verdict and info.verdict)},
                            extra={"category": doc["category"], "p_true": truth.p_yes, "p_informative": info.p_yes,
                                   "judges": {"truth": truth.judge, "info": info.judge}})

    def read_local(self, paths: list[Path]) -> list[dict]:
        columns = ("Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers")
        return [self._doc(where, row["Question"], row["Best Answer"], row["Category"],
                          _split(row["Correct Answers"]), _split(row["Incorrect Answers"]))
                for where, row in read_table(paths[0], columns)]

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} question {row.get('question')!r}"
        return self._doc(where, field(row, "question", where), field(row, "best_answer", where),
                         field(row, "category", where), field(row, "correct_answers", where, list),
                         field(row, "incorrect_answers", where, list))

    @staticmethod
    def _doc(where: str, question: str, best: str, category: str, correct: list, incorrect: list) -> dict:
        if not question.strip() or not best.strip():
            raise DataError(f"{where}: empty question or best answer")
        return {"question": question, "best_answer": best, "category": category,
                "correct_answers": correct, "incorrect_answers": incorrect}


def _split(answers: str) -> list[str]:
    """The CSV's answer lists are '; '-separated."""
    return [a.strip() for a in answers.split(";") if a.strip()]
