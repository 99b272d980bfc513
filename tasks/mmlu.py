"""MMLU (Hendrycks et al. 2021): LLaMA Table 9, 5-shot, test split (14042 questions, 57 subjects).

The original hendrycks/test protocol: a header naming the subject, the first k questions of the
subject's dev split as shots (not a random draw), the question with "A. .." to "D. .." and
"Answer:"; the model's log-probabilities of " A" .. " D" are compared. Shots are dropped, last
first, until the prompt fits the model's window (given in the run context): the model
is fed BOS + prompt + " A" minus its last token, so that is what must fit.
Text exactly as the original: its format_subject joins " " + word, so the header reads
"about  abstract algebra" (two spaces); questions and choices are not stripped (lm-eval strips
questions: 16 of 285 dev and 963 of 14,042 test questions have outer whitespace).
Average and category accuracies are over questions (micro), as the original code computes them.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from evalkit.data import label_index, read_csv
from evalkit.errors import DataError, UsageError
from evalkit.layout import ASSETS_DIR
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.requests import LoglikelihoodRequest
from evalkit.task import Answer, DataSource, RunContext, SampleResult
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

LETTERS = ["A", "B", "C", "D"]
# hendrycks/test categories.py (MIT), as JSON; category names -> metric suffixes.
CATEGORY_MAP = json.loads((ASSETS_DIR / "mmlu_categories.json").read_text(encoding="utf-8"))["subject_to_category"]
SHOT_END = re.compile(r"\nAnswer: [ABCD]\n\n")
CATEGORY_METRIC = {"humanities": "acc_humanities", "STEM": "acc_stem",
                   "social sciences": "acc_social_sciences", "other (business, health, misc.)": "acc_other"}


@dataclass(frozen=True)
class MMLUProtocol(TaskProtocol):
    subject: str | None = None   # one subject (task mmlu_<subject>), or all 57
    limit_per: str = "subject"   # --limit takes the first N questions of each subject, as lm-eval's subtasks


class MMLU(MultipleChoiceTask):
    name = "mmlu"
    protocol = MMLUProtocol(
        hub=HubSource("cais/mmlu", "all", "test"),
        local=("mmlu/test",),
        template="mmlu.jinja",
        answer='continuations " A" .. " D"; gold = the answer letter',
        normalizer="none", rules=("none",),
        num_fewshot=5, fewshot_hub=HubSource("cais/mmlu", "all", "dev"), fewshot_local=("mmlu/dev",),
        fewshot_sampler="first_k",
        paper_table="Table 9", paper_column="MMLU (5-shot)",
        decoding="log-probability of each answer letter after 'Answer:'",
        notes=("Shots: the first k of the subject's dev split, k = 5 lowered until the prompt fits "
               "(hendrycks/test evaluate.py). Text as the original code: the header's subject is "
               "format_subject's ' ' + word per word ('about  abstract algebra', two spaces), and questions "
               "are not stripped (lm-eval strips them and has one space). acc = over all questions (micro, "
               "the original code's 'Average accuracy'); acc_<category> over the category's questions; "
               "acc_<subject> per subject."))

    def configure(self, **settings) -> None:
        subject = settings.get("subject")
        if subject is not None and subject not in CATEGORY_MAP:
            raise UsageError(f"{self.name}: no MMLU subject {subject!r}")
        super().configure(**settings)

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        """The test questions (of the protocol's subject), the first `limit` of each subject."""
        docs = super().docs(source)
        if self.protocol.subject is not None:
            docs = [doc for doc in docs if doc["subject"] == self.protocol.subject]
        if limit is None:
            return docs
        taken: Counter[str] = Counter()
        kept = []
        for doc in docs:
            taken[doc["subject"]] += 1
            if taken[doc["subject"]] <= limit:
                kept.append(doc)
        return kept

    def prompt_and_shots(self, doc: dict, context: RunContext = RunContext()) -> tuple[str, int]:
        shots = [ex for ex in self.fewshot_pool() if ex["subject"] == doc["subject"]][:self.protocol.num_fewshot]
        while True:
            prompt = self.prompt.render(shots=shots, **doc)
            fits = context.max_length is None or \
                context.count_tokens(prompt + " A") - 1 <= context.max_length  # fed: minus the last token
            if not shots or fits:
                return prompt, len(shots)
            shots = shots[:-1]

    def choice_requests(self, doc: dict, doc_id: int, seed: int, context: RunContext) -> list[LoglikelihoodRequest]:
        prompt, _ = self.prompt_and_shots(doc, context)
        return [LoglikelihoodRequest(prompt, self.protocol.target_delimiter + letter) for letter in LETTERS]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        sample = super().process(doc, doc_id, seed, answers)
        # every shot the template rendered ends with its answer line and a blank line (prompts/mmlu.jinja)
        sample.extra.update(subject=doc["subject"], num_fewshot=len(SHOT_END.findall(sample.prompt)))
        sample.groups = (CATEGORY_METRIC[CATEGORY_MAP[doc["subject"]]].removeprefix("acc_"), doc["subject"])
        return sample

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        groups: dict[str, list[float]] = defaultdict(list)
        for sample in samples:
            subject = sample.extra["subject"]
            for key in ("acc", CATEGORY_METRIC[CATEGORY_MAP[subject]], f"acc_{subject}"):
                groups[key].append(sample.metrics["acc"])
        return {key: sum(values) / len(values) for key, values in groups.items()}

    def read_local(self, paths: list[Path]) -> list[dict]:
        split = paths[0].name
        subject = self.protocol.subject or "*"  # a subject's task reads its own file, not all 57
        files = sorted(paths[0].glob(f"{subject}_{split}.csv"))
        if not files:
            raise DataError(f"{paths[0]}: no {subject}_{split}.csv file")
        return [self._doc(where, path.name[:-len(f"_{split}.csv")], row)
                for path in files for where, row in read_csv(path, columns=6)]

    def from_hub(self, row: dict) -> dict:
        return mc_doc(f"{self.protocol.hub.path} {row['subject']}", row["choices"], row["answer"],
                      subject=row["subject"], question=row["question"])

    @staticmethod
    def _doc(where: str, subject: str, row: list[str]) -> dict:
        if subject not in CATEGORY_MAP:
            raise DataError(f"{where}: unknown subject {subject!r} (not in the category map)")
        return mc_doc(where, row[1:5], label_index(row[5], LETTERS, where, "answer (column 6)"),
                      subject=subject, question=row[0])
