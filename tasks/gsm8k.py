"""GSM8K (Cobbe et al. 2021): LLaMA Table 7, test split (1,319 problems), greedy and maj1@k.

Minerva's setup: the 8 chain-of-thought exemplars of Wei et al. (2022), "Q: ...\\nA: ... The answer
is X.", generation stopped at a blank line or the next "Q:"; the answer is the number right after the
first "The answer is" (evalkit.metrics.numeric_answer, which states the rule and its sources), compared
as a number with the gold after "####". DISAGREEMENTS lists where this differs from lm-eval 0.4.13's
`gsm8k_cot` strict-match on the hand-written cases of tests/answer_cases.py, and why.
maj1@k: k = 100 in the paper. The train split (7,473) is not used: the shots are the fixed exemplars.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError
from evalkit.metrics.numeric_answer import extract_answer, gold_answer
from evalkit.protocol import HubSource
from evalkit.task_kinds.exemplars import ExemplarTask, majority_protocol
from evalkit.task_kinds.generation import GenerationProtocol

DISAGREEMENTS = {
    **dict.fromkeys(["dollar sign", "dollar sign and space", "negative dollars", "thousands and dollar"],
                    "lm-eval's strict-match regex allows no '$' before the number, so '$18' states no answer there"),
    **dict.fromkeys(["trailing zeros", "minus zero", "leading zeros"],
                    "lm-eval compares strings ('18.00' is not '18'); evalkit compares numbers"),
    **dict.fromkeys(["no final dot", "line break after"],
                    "lm-eval's regex needs one more character after the number, and not a line break, so at the "
                    "end of a text or a line it keeps all but the last digit"),
    **dict.fromkeys(["lower case phrase", "title case phrase", "lower case phrase first", "extra spaces"],
                    "lm-eval's regex needs 'The answer is' capitalized as the exemplars write it, and one space; "
                    "evalkit takes the phrase in any case and any spacing"),
    "malformed separator": "lm-eval removes every comma, so '10,00' is 1000 there; evalkit reads commas only in "
                           "thousands groups, so it is 10",
}
NOTES = ("Rule: Wei et al. (2022) chain-of-thought format, which the paper follows for GSM8K as Minerva does: the "
         "number right after the first 'The answer is' (any case; '$' and thousands separators allowed), "
         "compared by value with the number after '####'. Against lm-eval 0.4.13 gsm8k_cot strict-match, "
         "hand-written cases differ only where " +
         "; ".join(f"'{case}': {why}" for case, why in DISAGREEMENTS.items()) + ".")
HUB = HubSource("openai/gsm8k", "main", "test")
PROTOCOL = GenerationProtocol(
    hub=HUB, local=("gsm8k/test.jsonl",), template="gsm8k.jinja",
    answer="the number right after the first 'The answer is' (any case; '$', thousands separators and a "
           "final dot removed), numerically equal to the number after '####'",
    normalizer="exact_match", rules=("exact_match",), num_fewshot=8,
    fewshot_sampler="fixed: the 8 exemplars of Wei et al. 2022 (prompts/gsm8k_exemplars.json)",
    until=("\n\n", "Q:"), max_new_tokens=256, paper_table="Table 7", paper_column="GSM8k", notes=NOTES)


def gsm8k_doc(where: str, record: dict) -> dict:
    solution = field(record, "answer", where)
    gold = gold_answer(solution)
    if gold is None:
        raise DataError(f"{where}: field 'answer' does not end with '#### <number>'")
    return {"question": field(record, "question", where), "solution": solution, "gold": gold}


class GSM8K(ExemplarTask):
    name = "gsm8k"
    protocol = PROTOCOL
    exemplar_file = "gsm8k_exemplars.json"
    shot_marker = "\nA: "  # each exemplar's answer line; the problem's own "A:" ends the prompt

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [gsm8k_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return gsm8k_doc(f"{HUB.path} row", row)

    def answer(self, completion: str) -> str | None:
        return extract_answer(completion)

    def gold(self, doc: dict) -> str:
        return doc["gold"]

    def judge(self, doc: dict, answer: str | None, completion: str) -> dict[str, float]:
        return {"exact_match": float(answer is not None and answer == doc["gold"])}


class GSM8KMaj(GSM8K):
    name = "gsm8k_maj1@k"
    protocol = majority_protocol(PROTOCOL, k=100)
