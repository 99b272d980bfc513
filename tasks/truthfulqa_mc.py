"""TruthfulQA multiple choice (Lin et al. 2022): MC1 and MC2, extra rows beside LLaMA Table 14.

Zero-shot after the "QA prompt" (the six-question primer of the TruthfulQA paper; the same template
as `truthfulqa_gen`): context "...\n\nQ: {question}\nA:", each answer scored as " {answer}". Every
distinct answer of the MC1 and MC2 lists is one request; MC1 and MC2 are computed from the same
log-likelihoods (evalkit.metrics.truthfulqa). Likelihood only: no judge is involved.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_json
from evalkit.errors import DataError
from evalkit.metrics.truthfulqa import mc1, mc2
from evalkit.protocol import HubSource, ProtocolTask, TaskProtocol
from evalkit.requests import LoglikelihoodRequest
from evalkit.task import Answer, RunContext, SampleResult

TARGETS = ("mc1", "mc2")


def answers(doc: dict) -> list[str]:
    """The distinct answers of both lists, in order of first appearance: one request each."""
    return list(dict.fromkeys(doc["mc1"] + doc["mc2"]))


class TruthfulQAMC(ProtocolTask):
    name = "truthfulqa_mc"
    protocol = TaskProtocol(
        hub=HubSource("truthful_qa", "multiple_choice", "validation"),
        local=("truthfulqa/data/mc_task.json",),
        template="truthfulqa.jinja",
        answer="the mc1_targets / mc2_targets answers, each ' {answer}'; labels 1 = true",
        normalizer="mc2",
        paper_table="Table 14", paper_column="TruthfulQA MC (extra rows)",
        rules=TARGETS,
        output_type="multiple_choice",
        decoding="summed loglikelihood of each answer; MC1 = argmax is the true answer, "
                 "MC2 = normalised probability of the true answers",
        notes="not in the LLaMA paper (which reports the generation task); lm-eval's truthfulqa_mc1/mc2 protocol")

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[LoglikelihoodRequest]:
        prompt = self.prompt.render(question=doc["question"])
        return [LoglikelihoodRequest(prompt, self.protocol.target_delimiter + a) for a in answers(doc)]

    def process(self, doc: dict, doc_id: int, seed: int, answered: list[Answer]) -> SampleResult:
        delimiter = self.protocol.target_delimiter
        by_answer = {a.request.continuation[len(delimiter):]: a.result.loglikelihood for a in answered}
        lls = {t: [by_answer[a] for a in doc[t]] for t in TARGETS}
        metrics = {"mc1": mc1(lls["mc1"], doc["mc1_labels"]), "mc2": mc2(lls["mc2"], doc["mc2_labels"])}
        best = max(range(len(lls["mc1"])), key=lls["mc1"].__getitem__)
        return SampleResult(doc_id=doc_id, prompt=answered[0].request.context,
                            target=doc["mc1"][doc["mc1_labels"].index(1)], prediction=doc["mc1"][best],
                            metrics=metrics,
                            extra={"choices": answers(doc), "loglikelihoods": [by_answer[a] for a in answers(doc)]})

    def read_local(self, paths: list[Path]) -> list[dict]:
        records = read_json(paths[0], list)
        docs = []
        for i, record in enumerate(records):
            where = f"{paths[0]}: question {i}"
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object")
            targets = {}
            for t in TARGETS:
                mapping = field(record, f"{t}_targets", where, dict)
                targets[t] = (list(mapping), list(mapping.values()))
            docs.append(self._doc(where, field(record, "question", where), targets))
        return docs

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} question {row.get('question')!r}"
        targets = {t: (field(row[f"{t}_targets"], "choices", where, list), field(row[f"{t}_targets"], "labels", where, list))
                   for t in TARGETS}
        return self._doc(where, field(row, "question", where), targets)

    @staticmethod
    def _doc(where: str, question: str, targets: dict[str, tuple[list, list]]) -> dict:
        doc = {"question": question}
        for t, (choices, labels) in targets.items():
            if not choices or not all(isinstance(c, str) and c for c in choices):
                raise DataError(f"{where}: {t} answers must be non-empty strings")
            if any(label not in (0, 1) for label in labels) or 1 not in labels:
                raise DataError(f"{where}: {t} labels must be 0/1 with at least one 1, got {labels}")
            if t == "mc1" and labels.count(1) != 1:
                raise DataError(f"{where}: mc1 needs exactly one true answer, got {labels.count(1)}")
            doc[t], doc[f"{t}_labels"] = list(choices), list(labels)
        return doc

