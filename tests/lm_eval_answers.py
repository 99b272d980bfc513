"""lm-eval 0.4.13's verdicts on MATH and GSM8K completions, and evalkit's, for the differential tests.

MATH: `minerva_math`'s `exact_match` (`get_unnormalized_answer`, `normalize_final_answer`, `is_equiv`
against the gold of its `process_docs`). Its module asserts antlr4-python3-runtime 4.11 on import (for
sympy's LaTeX parser), while math-verify needs 4.13, so it runs in a child process whose PYTHONPATH
starts with $EVALKIT_ANTLR411 when set (a folder from `pip install --target DIR
antlr4-python3-runtime==4.11.0`). GSM8K: `gsm8k_cot`'s strict-match filter and exact_match settings,
read from its YAML, run in this process.

`python tests/lm_eval_answers.py` prints the agreement table.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from answer_cases import GSM8K_CASES, MATH_CASES  # noqa: E402

from evalkit.metrics.math_answer import is_equivalent, last_boxed, model_answer, normalize_final_answer  # noqa: E402
from evalkit.metrics.math_answer import gold_boxed  # noqa: E402
from evalkit.metrics.numeric_answer import canonical_number, extract_answer  # noqa: E402

MATH_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "math" / "test.jsonl.gz"

MINERVA = r"""
import json, sys
from lm_eval.tasks.minerva_math import utils as u
u.is_equiv("1", "2")  # load sympy's LaTeX parser now, not inside the first comparison's 5 s limit
verdicts = []
for solution, completion in json.load(sys.stdin):
    gold = u.normalize_final_answer(u.remove_boxed(u.last_boxed_only_string(solution)))
    answer = u.normalize_final_answer(u.get_unnormalized_answer(completion))
    verdicts.append(bool(u.is_equiv(answer, gold)))
json.dump(verdicts, sys.stdout)
"""


def lm_eval_math(pairs: list[tuple[str, str]]) -> tuple[list[bool] | None, str]:
    """lm-eval's verdicts on (reference solution, completion) pairs, or (None, why it could not run)."""
    env = dict(os.environ)
    if os.environ.get("EVALKIT_ANTLR411"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ["EVALKIT_ANTLR411"], env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", MINERVA], input=json.dumps(pairs), capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(proc.stdout), ""


def lm_eval_gsm8k(completion: str, solution: str) -> bool:
    """gsm8k_cot strict-match: its regex's first match, then exact_match with its ignore settings."""
    import yaml
    import lm_eval
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter
    config = yaml.safe_load((Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k-cot.yaml").read_text())
    (strict,) = [f for f in config["filter_list"] if f["name"] == "strict-match"]
    regex = strict["filter"][0]["regex_pattern"]
    (metric,) = config["metric_list"]
    extracted = RegexFilter(regex_pattern=regex).apply([[completion]], [{}])[0][0]
    target = solution.split("####")[-1].strip()
    score = exact_match_hf_evaluate([extracted], [target], regexes_to_ignore=metric["regexes_to_ignore"],
                                    ignore_case=metric["ignore_case"], ignore_punctuation=metric["ignore_punctuation"])
    return score["exact_match"] == 1.0


def math_solution(gold: str) -> str:
    """A reference solution boxing `gold`, as MATH's solutions end."""
    return f"So the answer is $\\boxed{{{gold}}}$."


def perfect_completion(solution: str) -> str:
    """The reference solution followed by Minerva's closing line stating its boxed answer (on one line)."""
    boxed = last_boxed(solution).replace("\n", " ")
    return f"{solution}\nFinal Answer: The final answer is ${boxed}$. I hope it is correct."


def evalkit_math(solution: str, completion: str) -> bool:
    return is_equivalent(model_answer(completion), normalize_final_answer(gold_boxed(last_boxed(solution))))[0]


def evalkit_gsm8k(completion: str, gold: str) -> bool:
    answer = extract_answer(completion)
    return answer is not None and answer == canonical_number(gold)


def math_rows() -> list[dict]:
    with gzip.open(MATH_FILE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> None:
    rows = math_rows()
    gold_pairs = [(row["solution"], perfect_completion(row["solution"])) for row in rows]
    case_pairs = [(math_solution(gold), completion) for _, completion, gold, _ in MATH_CASES]
    reference, why = lm_eval_math(gold_pairs + case_pairs)
    if reference is None:
        sys.exit(f"lm-eval minerva_math could not run: {why}")
    ours = [evalkit_math(*pair) for pair in gold_pairs + case_pairs]
    n = len(gold_pairs)
    print("| set | n | evalkit right | lm-eval right | agree |")
    print("|---|---|---|---|---|")
    print(f"| MATH perfect golds | {n} | {sum(ours[:n])} | {sum(reference[:n])} | "
          f"{sum(a == b for a, b in zip(ours[:n], reference[:n]))} |")
    expected = [verdict for *_, verdict in MATH_CASES]
    print(f"| MATH hand-written | {len(MATH_CASES)} | {sum(a == e for a, e in zip(ours[n:], expected))} | "
          f"{sum(a == e for a, e in zip(reference[n:], expected))} | "
          f"{sum(a == b for a, b in zip(ours[n:], reference[n:]))} |")
    gsm_ours = [evalkit_gsm8k(completion, gold) for _, completion, gold, _ in GSM8K_CASES]
    gsm_ref = [lm_eval_gsm8k(completion, f"#### {gold}") for _, completion, gold, _ in GSM8K_CASES]
    expected = [verdict for *_, verdict in GSM8K_CASES]
    print(f"| GSM8K hand-written | {len(GSM8K_CASES)} | {sum(a == e for a, e in zip(gsm_ours, expected))} | "
          f"{sum(a == e for a, e in zip(gsm_ref, expected))} | {sum(a == b for a, b in zip(gsm_ours, gsm_ref))} |")
    for i, (a, b) in enumerate(zip(ours, reference)):
        if a != b:
            where = f"MATH idx {rows[i]['idx']}" if i < n else f"MATH case '{MATH_CASES[i - n][0]}'"
            print(f"differ: {where}: evalkit {a}, lm-eval {b}")
    for (name, *_), a, b in zip(GSM8K_CASES, gsm_ours, gsm_ref):
        if a != b:
            print(f"differ: GSM8K case '{name}': evalkit {a}, lm-eval {b}")


if __name__ == "__main__":
    main()
