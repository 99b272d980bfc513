"""Multiple-choice tasks: one log-likelihood request per choice, scored by every declared rule.

A document is a dict with at least `choices` (list of str) and `label` (gold index); the template
renders the context from the document's fields. With the "answer" rule in the protocol, each
choice is also scored after the bare context "Answer:" (Brown et al. 2020, section 2.4).
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, label_index, read_jsonl
from evalkit.errors import DataError
from evalkit.fewshot import sample_fewshot
from evalkit.metrics.accuracy import choose
from evalkit.protocol import RULE_METRICS, ProtocolTask
from evalkit.requests import LoglikelihoodRequest, LoglikelihoodResult
from evalkit.task import Answer, RunContext, SampleResult

UNCONDITIONAL_CONTEXT = "Answer:"
FEWSHOT_DELIMITER = "\n\n"


def delimited_shot_starts(prompt: str, k: int) -> list[int]:
    """Where the k shots of a prompt "shot + FEWSHOT_DELIMITER, ..., question" begin: at 0, then after each
    delimiter. A shot whose own text holds the delimiter shifts the later starts earlier, so such a shot
    cut by the window may still be counted whole."""
    starts, at = [], 0
    for _ in range(k):
        starts.append(at)
        found = prompt.find(FEWSHOT_DELIMITER, at)
        if found < 0:
            break
        at = found + len(FEWSHOT_DELIMITER)
    return starts


def mc_doc(where: str, choices: list, label: int, **fields) -> dict:
    """A checked document: non-empty string choices and a label among them, else DataError."""
    if not choices or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{where}: field 'choices' must be a non-empty list of strings, got {choices!r}")
    if not isinstance(label, int) or not 0 <= label < len(choices):
        raise DataError(f"{where}: field 'label' {label!r} is out of range for {len(choices)} choices")
    return {**fields, "choices": list(choices), "label": label}


def read_ai2_questions(path: Path, keep_id: bool = True) -> list[dict]:
    """AI2's question files (ARC, OpenBookQA): {"id", "question": {"stem", "choices": [{"text", "label"}]},
    "answerKey"}; the gold label is looked up among the question's own labels (A-D, 1-4, 3 or 5 choices).
    keep_id=False leaves the id out of the documents (it is still required in the file)."""
    docs = []
    for where, record in read_jsonl(path):
        question = field(record, "question", where, dict)
        choices = field(question, "choices", where, list)
        labels = [field(c, "label", where) for c in choices]
        docs.append(mc_doc(where, [field(c, "text", where) for c in choices],
                           label_index(field(record, "answerKey", where), labels, where, "answerKey"),
                           question=field(question, "stem", where),
                           **({"id": field(record, "id", where)} if keep_id else {})))
    return docs


class MultipleChoiceTask(ProtocolTask):
    """Subclasses declare `name` and `protocol` and read their data; the rest is shared."""
    unconditional_context = UNCONDITIONAL_CONTEXT  # GPT-3 used "Answer: " or "A: ", as its format ends

    def context(self, doc: dict) -> str:
        return self.prompt.render(**doc)

    def choices(self, doc: dict) -> list[str]:
        return doc["choices"]

    def gold(self, doc: dict) -> int:
        return doc["label"]

    def shots(self, doc: dict, doc_id: int, seed: int) -> str:
        """The few-shot prefix: each example's context and gold choice, then a blank line."""
        k = self.protocol.num_fewshot
        if k == 0:
            return ""
        return "".join(self.example(ex) + FEWSHOT_DELIMITER
                       for ex in sample_fewshot(self.fewshot_pool(), k, seed, doc_id, doc))

    def shot_starts(self, prompt: str) -> list[int]:
        return delimited_shot_starts(prompt, self.protocol.num_fewshot)

    def example(self, doc: dict) -> str:
        """A solved example for the few-shot prefix: the context and its gold choice."""
        return self.context(doc) + self.protocol.target_delimiter + self.choices(doc)[self.gold(doc)]

    def choice_requests(self, doc: dict, doc_id: int, seed: int, context: RunContext) -> list[LoglikelihoodRequest]:
        prompt = self.shots(doc, doc_id, seed) + self.context(doc)
        return [LoglikelihoodRequest(prompt, self.protocol.target_delimiter + c) for c in self.choices(doc)]

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[LoglikelihoodRequest]:
        scored = self.choice_requests(doc, doc_id, seed, context)
        if "answer" in self.protocol.rules:
            scored += [LoglikelihoodRequest(self.unconditional_context, r.continuation) for r in scored]
        return scored

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        # with the "answer" rule the second half holds the same continuations after the unconditional context
        n = len(answers) // 2 if "answer" in self.protocol.rules else len(answers)
        scored = [a.request for a in answers[:n]]
        lls = [a.result.loglikelihood for a in answers[:n]]
        unconditional = [a.result.loglikelihood for a in answers[n:]] or None
        # The character rule divides by the length of what was scored, without the delimiter.
        texts = [r.continuation[len(self.protocol.target_delimiter):] for r in scored]
        picks = {rule: choose(rule, lls, texts, unconditional) for rule in self.protocol.rules}
        gold = self.gold(doc)
        extra = {"choices": self.choices(doc), "loglikelihoods": lls}
        if self.protocol.num_fewshot:  # sample_fewshot gives k or refuses; the window may cut some (shots.py)
            extra["num_fewshot"] = self.protocol.num_fewshot
        if unconditional:
            extra["unconditional_loglikelihoods"] = unconditional
        return SampleResult(doc_id=doc_id, prompt=scored[0].context, target=gold,
                            prediction=picks[self.protocol.normalizer],
                            metrics={RULE_METRICS[rule]: float(pick == gold) for rule, pick in picks.items()},
                            extra=extra)
