"""MMLU (Hendrycks et al. 2021): LLaMA Table 9, 5-shot, test split (14042 questions, 57 subjects).

The original hendrycks/test protocol: a header naming the subject, the first k questions of the
subject's dev split as shots (not a random draw), the question with "A. .." to "D. .." and
"Answer:"; the model's log-probabilities of " A" .. " D" are compared. Shots are dropped, last
first, until the prompt fits the model's window (the runner calls `set_context_limit`): the model
is fed BOS + prompt + " A" minus its last token, so that is what must fit.
Text exactly as the original: its format_subject joins " " + word, so the header reads
"about  abstract algebra" (two spaces); questions and choices are not stripped (lm-eval strips
questions: 16 of 285 dev and 963 of 14,042 test questions have outer whitespace).
Average and category accuracies are over questions (micro), as the original code computes them.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Callable

from evalkit.data import label_index, read_csv
from evalkit.errors import DataError
from evalkit.layout import ASSETS_DIR
from evalkit.multiple_choice import MultipleChoiceTask, mc_doc
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.requests import LoglikelihoodRequest
from evalkit.task import SampleResult

LETTERS = ["A", "B", "C", "D"]
# hendrycks/test categories.py (MIT), as JSON; category names -> metric suffixes.
CATEGORY_MAP = json.loads((ASSETS_DIR / "mmlu_categories.json").read_text(encoding="utf-8"))["subject_to_category"]
CATEGORY_METRIC = {"humanities": "acc_humanities", "STEM": "acc_stem",
                   "social sciences": "acc_social_sciences", "other (business, health, misc.)": "acc_other"}


class MMLU(MultipleChoiceTask):
    name = "mmlu"
    protocol = TaskProtocol(
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
               "the original code's 'Average accuracy'); acc_<category> over the category's questions; acc_<subject> per subject."))

    max_tokens: int | None = None
    count_tokens: Callable[[str], int] | None = None

    def set_context_limit(self, max_tokens: int, count_tokens: Callable[[str], int]) -> None:
        """The model's window and token counter, so that shots can be dropped until the prompt fits."""
        self.max_tokens, self.count_tokens = max_tokens, count_tokens

    def prompt_and_shots(self, doc: dict) -> tuple[str, int]:
        shots = [ex for ex in self.fewshot_pool() if ex["subject"] == doc["subject"]][:self.protocol.num_fewshot]
        while True:
            context = self.prompt.render(shots=shots, **doc)
            fed = self.count_tokens(context + " A") - 1 if self.max_tokens is not None else 0  # minus " A"
            if not shots or self.max_tokens is None or fed <= self.max_tokens:
                return context, len(shots)
            shots = shots[:-1]

    def choice_requests(self, doc: dict, doc_id: int, seed: int) -> list[LoglikelihoodRequest]:
        context, _ = self.prompt_and_shots(doc)
        return [LoglikelihoodRequest(context, self.protocol.target_delimiter + letter) for letter in LETTERS]

    def process(self, doc: dict, doc_id: int, seed: int, results: list) -> SampleResult:
        sample = super().process(doc, doc_id, seed, results)
        sample.extra.update(subject=doc["subject"], num_fewshot=self.prompt_and_shots(doc)[1])
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
        files = sorted(paths[0].glob(f"*_{split}.csv"))
        if not files:
            raise DataError(f"{paths[0]}: no *_{split}.csv files")
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
