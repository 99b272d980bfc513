"""Differential test against lm-eval 0.4.13: `minerva_math`'s exact_match on all 5,000 MATH gold answers fed
back as perfect completions and on the hand-written MATH cases, `gsm8k_cot`'s strict-match on the hand-written
GSM8K cases. Every disagreement is one of DISAGREEMENTS, whose reasons tasks/competition_math.py and
tasks/gsm8k.py state in their protocol notes.

Runs where lm-eval is installed (the optional `bench` extra); the MATH part also needs
antlr4-python3-runtime 4.11 for lm-eval's sympy parser, given as $EVALKIT_ANTLR411 (tests/lm_eval_answers.py),
and ../shared/data for the 5,000 golds.
"""
import pytest

from answer_cases import GSM8K_CASES, MATH_CASES
from conftest import DATA_DIR
from lm_eval_answers import (evalkit_gsm8k, evalkit_math, lm_eval_gsm8k, lm_eval_math, math_rows, math_solution,
                             perfect_completion)

from tasks.competition_math import DISAGREEMENTS as MATH_DISAGREEMENTS
from tasks.gsm8k import DISAGREEMENTS as GSM8K_DISAGREEMENTS

pytest.importorskip("lm_eval")


def reference_math(pairs):
    verdicts, why = lm_eval_math(pairs)
    if verdicts is None:
        pytest.skip(f"lm-eval's minerva_math does not load here ({why}); set EVALKIT_ANTLR411")
    return verdicts


def test_math_cases_disagree_only_where_listed():
    pairs = [(math_solution(gold), completion) for _, completion, gold, _ in MATH_CASES]
    differ = {name for (name, *_), pair, theirs in zip(MATH_CASES, pairs, reference_math(pairs))
              if evalkit_math(*pair) != theirs}
    assert differ == set(MATH_DISAGREEMENTS)


@pytest.mark.skipif(not (DATA_DIR / "math" / "test.jsonl.gz").is_file(), reason="../shared/data/math is not present")
def test_all_5000_perfect_math_answers_score_and_agree():
    rows = math_rows()
    pairs = [(row["solution"], perfect_completion(row["solution"])) for row in rows]
    ours = [evalkit_math(*pair) for pair in pairs]
    assert len(rows) == 5000 and sum(ours) == 5000
    assert ours == reference_math(pairs)


def test_gsm8k_cases_disagree_only_where_listed():
    differ = {name for name, completion, gold, _ in GSM8K_CASES
              if evalkit_gsm8k(completion, gold) != lm_eval_gsm8k(completion, f"#### {gold}")}
    assert differ == set(GSM8K_DISAGREEMENTS)
