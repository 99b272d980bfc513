"""Tasks prompted with fixed exemplars from the literature: GSM8K and MATH "with the same setup as Minerva".

The exemplars are recorded in prompts/<name>_exemplars.json (their sha256 in the results); the first
`num_fewshot` of them precede each problem (all of them by default), and where they do not fit the
window the last are dropped. The maj1@k forms (`majority_protocol`) draw k samples per problem at
Minerva's temperature 0.6 and top-p 0.95 (Lewkowycz et al. 2022) and vote.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from evalkit.errors import UsageError
from evalkit.prompts import Exemplars, load_exemplars
from evalkit.task_kinds.generation import GenerationProtocol, GenerationTask, fit_shots


MAJ_TEMPERATURE, MAJ_TOP_P = 0.6, 0.95


def majority_protocol(protocol: GenerationProtocol, k: int) -> GenerationProtocol:
    """The maj1@k form of a greedy protocol: k samples at Minerva's settings, put to the vote."""
    return dataclasses.replace(protocol, n=k, temperature=MAJ_TEMPERATURE, top_p=MAJ_TOP_P, paper_column="+maj1@k")


class ExemplarTask(GenerationTask):
    """A generation task whose shots are a fixed exemplar file under prompts/ (no few-shot split)."""
    exemplar_file: str

    @property
    def exemplars(self) -> Exemplars:
        return load_exemplars(self.exemplar_file)

    def check(self, protocol) -> None:
        """Shots come from the exemplar file, not from a split: at most as many as it holds."""
        if not 0 <= protocol.num_fewshot <= len(self.exemplars.shots):
            raise UsageError(f"{self.name}: num_fewshot must be 0 to {len(self.exemplars.shots)} (the exemplars of "
                             f"{self.exemplar_file}), got {protocol.num_fewshot}")
        super().check(dataclasses.replace(protocol, num_fewshot=0))

    def protocol_dict(self) -> dict:
        return super().protocol_dict() | {"exemplars": self.exemplar_file, "exemplars_hash": self.exemplars.sha256}

    def prompt_for(self, doc: dict, doc_id: int, seed: int, fits: Callable[[str], bool]) -> str:
        shots = self.exemplars.shots[:self.protocol.num_fewshot]
        return fit_shots(lambda kept: self.prompt.render(shots=kept, **doc), shots, fits)
