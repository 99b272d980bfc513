"""The hand-written MATH and GSM8K completions of tests/answer_cases.py get the verdicts written beside them
(a plain test: no lm-eval needed)."""
import pytest

from answer_cases import GSM8K_CASES, MATH_CASES
from lm_eval_answers import evalkit_gsm8k, evalkit_math, math_solution


def test_at_least_forty_cases_per_benchmark_with_unique_names():
    for cases in (MATH_CASES, GSM8K_CASES):
        names = [name for name, *_ in cases]
        assert len(cases) >= 40 and len(set(names)) == len(names)
        assert {verdict for *_, verdict in cases} == {True, False}


@pytest.mark.parametrize("name, completion, gold, verdict", MATH_CASES, ids=[case[0] for case in MATH_CASES])
def test_math_headline_verdict(name, completion, gold, verdict):
    assert evalkit_math(math_solution(gold), completion) is verdict


@pytest.mark.parametrize("name, completion, gold, verdict", GSM8K_CASES, ids=[case[0] for case in GSM8K_CASES])
def test_gsm8k_verdict(name, completion, gold, verdict):
    assert evalkit_gsm8k(completion, gold) is verdict
