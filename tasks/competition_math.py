"""MATH (Hendrycks et al. 2021): LLaMA Table 7, test split (5,000 problems), greedy and maj1@k.

Minerva's setup (Lewkowycz et al. 2022, appendix D): its 4-shot prompt ("Problem:\\n...\\n\\nSolution:\\n...
Final Answer: The final answer is X. I hope it is correct."), generation stopped at the next "Problem:";
the answer is X of the "Final Answer" line by Minerva's pattern (no such line: no answer), normalized
as Minerva does (its substring rules made LaTeX-safe, as lm-eval 0.4.13 does) and judged equal to the
gold (the solution's last \\boxed{}) by string or by SymPy within a time limit
(evalkit.metrics.math_answer). Two more metrics beside the headline: `exact_match_boxed` (the same
check, taking the completion's last \\boxed{} when it has no "Final Answer" line: lenient, not the
paper's rule; for maj1@k it judges the voted answer, or the first sample's box when no sample has the
line) and `math_verify` (Hugging Face's Math-Verify on the whole completion against the whole reference
solution, as lm-eval's `minerva_math`). maj1@k: k = 256 in the paper.

Where this differs from lm-eval 0.4.13's `minerva_math` `exact_match` (tests/test_vs_lm_eval_answers.py:
all 5,000 gold answers fed back as perfect completions, and the hand-written cases of
tests/answer_cases.py): DISAGREEMENTS, with the reasons, also in the protocol notes.
Documents keep the source's `idx` as their id where present (the mirror in ../shared/data has it).
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError
from evalkit.metrics.math_answer import (gold_boxed, is_equivalent, last_boxed, lenient_answer, model_answer,
                                         normalize_final_answer)
from evalkit.metrics.verifier import verified
from evalkit.protocol import HubSource
from evalkit.task_kinds.exemplars import ExemplarTask, majority_protocol
from evalkit.task_kinds.generation import GenerationProtocol

# Where the headline differs from lm-eval 0.4.13's minerva_math exact_match on the hand-written cases of
# tests/answer_cases.py, and why (tests/test_vs_lm_eval_answers.py checks this is the whole list).
DISAGREEMENTS = {
    "tuple without left right": "evalkit drops the sizing commands \\left and \\right, lm-eval keeps them and "
                                "sympy cannot subtract tuples, so there (3,\\frac{\\pi}{2}) is not "
                                "\\left( 3, \\frac{\\pi}{2} \\right)",
    **dict.fromkeys(["variable a kept", "variable a in a fraction (gold 2620)", "tan with parentheses (gold 4700)"],
                    "lm-eval removes 'a ' and 'an ' as substrings (Minerva's rule for articles), so the gold "
                    "'2a + b' becomes '2+b' and '2 \\tan x' becomes '2\\tx'; evalkit removes 'a'/'an' only as an "
                    "article before a word"),
}
NOTES = ("Rules: Minerva (Lewkowycz et al. 2022, appendix D) for extraction and normalization, with unit words "
         "removed as words (never inside a command such as \\left or \\infty), commas fused only in "
         "thousands-separator shapes, \\sqrt[n]{x} kept and \\sqrt[n]x read as it, as lm-eval 0.4.13's "
         "minerva_math does; \\left/\\right dropped; a gold box's closing dot dropped (problem 2269). "
         "exact_match_boxed is a lenient extra (the last \\boxed{} when there is no Final Answer line), never "
         "the headline. math_verify: Math-Verify on the whole completion and the whole reference solution, as "
         "lm-eval. Against lm-eval 0.4.13 minerva_math exact_match: the 5,000 test gold answers fed back as "
         "perfect completions score 5,000/5,000 in both, verdict for verdict; hand-written cases differ only "
         "where " + "; ".join(f"'{case}': {why}" for case, why in DISAGREEMENTS.items()) + ".")
HUB = HubSource("DigitalLearningGmbH/MATH-lighteval", None, "test")  # a maintained copy of hendrycks/competition_math
PROTOCOL = GenerationProtocol(
    hub=HUB, local=("math/test.jsonl.gz",), template="minerva_math.jinja",
    answer="X of 'Final Answer: The final answer is X. I hope it is correct.' by Minerva's pattern (none: "
           "wrong); Minerva's normalization with unit words removed as words, commas fused only in 10,000 "
           "shapes, \\sqrt[n] kept; equal to the gold (the solution's last \\boxed{}, a closing dot dropped) "
           "as strings or by sympy.simplify(a - b) == 0 within 5 s (a timeout is not equal, and is counted)",
    normalizer="exact_match", rules=("exact_match", "exact_match_boxed", "math_verify"), num_fewshot=4,
    fewshot_sampler="fixed: Minerva's 4-shot prompt (prompts/minerva_math_exemplars.json)",
    until=("Problem:",), max_new_tokens=512, paper_table="Table 7", paper_column="MATH", notes=NOTES)


def math_doc(where: str, record: dict) -> dict:
    solution = field(record, "solution", where)
    boxed = last_boxed(solution)
    if boxed is None:
        raise DataError(f"{where}: field 'solution' has no \\boxed{{...}} answer")
    doc = {"problem": field(record, "problem", where), "solution": solution, "gold_boxed": boxed,
           "gold": normalize_final_answer(gold_boxed(boxed)), "level": record.get("level"),
           "type": record.get("type")}
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
        lenient = (equal, False) if answer is not None else is_equivalent(lenient_answer(completion), doc["gold"])
        return {"exact_match": float(equal), "exact_match_boxed": float(lenient[0]),
                "math_verify": float(verified(doc["solution"], completion)),
                "symbolic_timeout": float(timed_out or lenient[1])}


class MATHMaj(MATH):
    name = "math_maj1@k"
    protocol = majority_protocol(PROTOCOL, k=256)
