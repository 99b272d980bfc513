"""Quantitative reasoning (LLaMA Table 7): GSM8K and MATH "with the same setup as Minerva".

Fixed exemplars from the literature (recorded in prompts/*_exemplars.json, their hash in the results)
precede each problem; the first `num_fewshot` of them are used (all by default). The plain columns
decode greedily; the maj1@k columns draw k samples per problem (one prefill shared by all k) at
Minerva's temperature 0.6 and top-p 0.95, and vote over the normalized answers.
"""
from __future__ import annotations

import dataclasses

from evalkit.generation_task import GenerationProtocol, GenerationTask, fit_shots
from evalkit.prompts import Exemplars, load_exemplars

MAJ_TEMPERATURE = 0.6  # Lewkowycz et al. 2022: samples for majority voting at T = 0.6, nucleus p = 0.95
MAJ_TOP_P = 0.95


def maj_protocol(protocol: GenerationProtocol, k: int, column: str) -> GenerationProtocol:
    """The maj1@k form of a greedy protocol: k samples at Minerva's settings, voted."""
    return dataclasses.replace(protocol, k=k, temperature=MAJ_TEMPERATURE, top_p=MAJ_TOP_P, paper_column=column,
                               decoding=f"k samples per problem at temperature {MAJ_TEMPERATURE}, top-p {MAJ_TOP_P}, "
                                        "one shared prefill; majority vote")


class ExemplarTask(GenerationTask):
    """A generation task whose shots are a fixed exemplar file under prompts/."""
    exemplar_file: str

    @property
    def exemplars(self) -> Exemplars:
        return load_exemplars(self.exemplar_file)

    def protocol_dict(self) -> dict:
        return super().protocol_dict() | {"exemplars": self.exemplar_file, "exemplars_hash": self.exemplars.sha256}

    def context(self, doc: dict, doc_id: int, seed: int) -> tuple[str, int]:
        shots = self.exemplars.shots[:self.protocol.num_fewshot]
        return fit_shots(lambda kept: self.prompt.render(shots=kept, **doc), shots, self.fits)
