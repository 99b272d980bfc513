"""Hand-made results.json dicts for the report tests: two small models, one of them partly run."""
from __future__ import annotations

COMMONSENSE = ["boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"]
HEADLINE = {"boolq": "acc_answer", "openbookqa": "acc_answer", "race_middle": "acc", "race_high": "acc"}


def _multiple_choice(base: float) -> dict:
    # acc, acc_char and acc_answer differ so a test can tell which one filled a cell
    return {"acc": base, "acc_char": base + 0.01, "acc_answer": base + 0.02,
            "acc_stderr": 0.011, "acc_char_stderr": 0.012, "acc_answer_stderr": 0.013, "n": 1000}


def _protocol(tasks) -> dict:
    return {task: {"headline_metric": HEADLINE.get(task, "acc_char"), "num_fewshot": 0} for task in tasks}


def full_result() -> dict:
    """tiny-7M: every task of Tables 3, 6, 8 and 9 except MBPP."""
    results = {task: _multiple_choice(0.30 + 0.05 * i) for i, task in enumerate(COMMONSENSE)}
    results["race_middle"] = {"acc": 0.3412, "acc_stderr": 0.0101, "n": 1436}
    results["race_high"] = {"acc": 0.2956, "acc_stderr": 0.0077, "n": 3498}
    results["humaneval"] = {"pass@1": 0.0061, "pass@100": 0.0488, "n": 164}
    results["mmlu"] = {"acc": 0.2549, "acc_humanities": 0.2471, "acc_stem": 0.2615,
                       "acc_social_sciences": 0.2502, "acc_other": 0.2650, "acc_stderr": 0.0037, "n": 14042}
    return {"results": results, "protocol": _protocol(results),
            "model": {"name": "tiny-7M", "format": "llama2c", "params": 7_000_000}, "versions": {}}


def partial_result() -> dict:
    """tiny-15M: only BoolQ, PIQA, RACE-high and the MMLU average."""
    results = {"boolq": _multiple_choice(0.6), "piqa": _multiple_choice(0.55),
               "race_high": {"acc": 0.31, "n": 3498}, "mmlu": {"acc": 0.262, "n": 14042}}
    return {"results": results, "protocol": _protocol(results),
            "model": {"name": "tiny-15M", "format": "llama2c", "params": 15_200_000}, "versions": {}}


def only(result: dict, tasks: list[str]) -> dict:
    """`result` restricted to `tasks` (those it has)."""
    kept = {t: m for t, m in result["results"].items() if t in tasks}
    return {**result, "results": kept, "protocol": {t: p for t, p in result["protocol"].items() if t in kept}}
