"""WinoGrande (Sakaguchi et al. 2020): LLaMA Table 3, zero-shot, dev split (1267 sentences, xl).

Partial scoring as lm-eval (Trinh & Le 2018): each option is substituted for the blank and the
sentence up to it is the context; the rest of the sentence after the blank is the continuation,
the same for both options. Hence the rules "none" and "char" always agree here.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, label_index, read_jsonl
from evalkit.errors import DataError
from evalkit.protocol import HubSource, TaskProtocol
from evalkit.requests import LoglikelihoodRequest
from evalkit.task import RunContext
from evalkit.task_kinds.multiple_choice import MultipleChoiceTask, mc_doc

LABELS = ["1", "2"]


class WinoGrande(MultipleChoiceTask):
    name = "winogrande"
    protocol = TaskProtocol(
        hub=HubSource("allenai/winogrande", "winogrande_xl", "validation"),
        local=("winogrande/winogrande_1.1/dev.jsonl",),
        fewshot_hub=HubSource("allenai/winogrande", "winogrande_xl", "train"),
        fewshot_local=("winogrande/winogrande_1.1/train_xl.jsonl",),
        template="winogrande.jinja",
        answer="option1/option2 substituted for '_' (context); the text after '_' is scored; gold = answer",
        normalizer="char",
        paper_table="Table 3", paper_column="WinoGrande",
        decoding="loglikelihood of the sentence after the blank, given each option (partial scoring)")

    def choice_requests(self, doc: dict, doc_id: int, seed: int, context: RunContext) -> list[LoglikelihoodRequest]:
        before, after = doc["sentence"].split("_", 1)
        continuation = self.protocol.target_delimiter + after.strip()
        shots = self.shots(doc, doc_id, seed)
        return [LoglikelihoodRequest(shots + self.prompt.render(before_blank=before, option=option), continuation)
                for option in doc["choices"]]

    def example(self, doc: dict) -> str:
        """A solved example (--num-fewshot): the sentence with its gold option in the blank, as lm-eval."""
        before, after = doc["sentence"].split("_", 1)
        return self.prompt.render(before_blank=before, option=doc["choices"][doc["label"]]) + \
            self.protocol.target_delimiter + after.strip()

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self._doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return self._doc(f"{self.protocol.hub.path} {row.get('qID', 'row')}", row)

    @staticmethod
    def _doc(where: str, record: dict) -> dict:
        sentence = field(record, "sentence", where)
        if "_" not in sentence:
            raise DataError(f"{where}: field 'sentence' has no '_' blank")
        return mc_doc(where, [field(record, "option1", where), field(record, "option2", where)],
                      label_index(field(record, "answer", where, (str, int)), LABELS, where, "answer"),
                      sentence=sentence)
