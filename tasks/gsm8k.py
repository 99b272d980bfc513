"""GSM8K (Cobbe et al. 2021): LLaMA Table 7, test split (1,319 problems), greedy and maj1@k.

Minerva's setup: the 8 chain-of-thought exemplars of Wei et al. (2022), "Q: ...\\nA: ... The answer
is X.", generation stopped at a blank line or the next "Q:"; the answer is the last number after
"The answer is" (evalkit.metrics.numeric_answer), compared as a number with the gold after "####".
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

HUB = HubSource("openai/gsm8k", "main", "test")
PROTOCOL = GenerationProtocol(
    hub=HUB, local=("gsm8k/test.jsonl",), template="gsm8k.jinja",
    answer="the last number after the last 'The answer is' (commas, '$' and a final dot removed), "
           "numerically equal to the number after '####'",
    normalizer="exact_match", rules=("exact_match",), num_fewshot=8,
    fewshot_sampler="fixed: the 8 exemplars of Wei et al. 2022 (prompts/gsm8k_exemplars.json)",
    until=("\n\n", "Q:"), max_new_tokens=256, paper_table="Table 7", paper_column="GSM8k")


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
