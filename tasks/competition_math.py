"""MATH (Hendrycks et al. 2021): LLaMA Table 7, test split (5,000 problems), greedy and maj1@k.

Minerva's setup: its 4-shot prompt ("Problem:\\n...\\n\\nSolution:\\n... Final Answer: The final answer
is X. I hope it is correct."), generation stopped at the next "Problem:"; the answer is extracted
and normalized as Minerva does and judged equal to the gold (the solution's last \\boxed{}) by string
or by SymPy within a time limit (evalkit.metrics.math_answer). A second metric, `math_verify`,
judges the same answer with Hugging Face's Math-Verify. maj1@k: k = 256 in the paper.
Documents keep the source's `idx` as their id where present (the mirror in ../shared/data has it).
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError
from evalkit.metrics.math_answer import is_equivalent, last_boxed, model_answer, normalize_final_answer
from evalkit.metrics.verifier import verified
from evalkit.protocol import HubSource
from evalkit.task_kinds.exemplars import ExemplarTask, majority_protocol
from evalkit.task_kinds.generation import GenerationProtocol

HUB = HubSource("DigitalLearningGmbH/MATH-lighteval", None, "test")  # a maintained copy of hendrycks/competition_math
PROTOCOL = GenerationProtocol(
    hub=HUB, local=("math/test.jsonl.gz",), template="minerva_math.jinja",
    answer="the 'final answer is' span, else the last \\boxed{}; Minerva's normalization; equal to the gold "
           "as strings or by sympy.simplify(a - b) == 0 within 5 s (a timeout is not equal, and is counted)",
    normalizer="exact_match", rules=("exact_match", "math_verify"), num_fewshot=4,
    fewshot_sampler="fixed: Minerva's 4-shot prompt (prompts/minerva_math_exemplars.json)",
    until=("Problem:",), max_new_tokens=512, paper_table="Table 7", paper_column="MATH")


def math_doc(where: str, record: dict) -> dict:
    solution = field(record, "solution", where)
    boxed = last_boxed(solution)
    if boxed is None:
        raise DataError(f"{where}: field 'solution' has no \\boxed{{...}} answer")
    doc = {"problem": field(record, "problem", where), "solution": solution, "gold_boxed": boxed,
           "gold": normalize_final_answer(boxed), "level": record.get("level"), "type": record.get("type")}
    if "idx" in record:
        doc["id"] = str(record["idx"])
    return doc


class MATH(ExemplarTask):
    name = "math"
    protocol = PROTOCOL
    exemplar_file = "minerva_math_exemplars.json"
    shot_marker = "Solution:\n"  # each exemplar's solution; the problem's own "Solution:" ends the prompt

    def doc_key(self, doc: dict, doc_id: int) -> str:
        return doc.get("id", str(doc_id))

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [math_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return math_doc(f"{HUB.path} row", row)

    def answer(self, completion: str) -> str | None:
        return model_answer(completion)

    def gold(self, doc: dict) -> str:
        return doc["gold"]

    def judge(self, doc: dict, answer: str | None, completion: str) -> dict[str, float]:
        equal, timed_out = is_equivalent(answer, doc["gold"])
        return {"exact_match": float(equal), "math_verify": float(verified(doc["gold_boxed"], completion)),
                "symbolic_timeout": float(timed_out)}


class MATHMaj(MATH):
    name = "math_maj1@k"
    protocol = majority_protocol(PROTOCOL, k=256)
