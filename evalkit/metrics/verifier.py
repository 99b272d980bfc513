"""MATH's second metric: Hugging Face's Math-Verify (PyPI `math-verify`), a maintained answer verifier.

Shown beside Minerva's exact match so users can see both judgements of the same answers. As in lm-eval
0.4.13's `minerva_math`, Math-Verify is given the whole reference solution and the whole completion and
finds the answer in each with its own extraction rules (for a solution, its last \\boxed{}). Both
sides are parsed once and cached, since maj1@k repeats answers.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> tuple:
    from math_verify import parse
    return tuple(parse(text))


def verified(solution: str, completion: str) -> bool:
    """Math-Verify's verdict: does `completion` state an answer equivalent to the reference `solution`'s?"""
    from math_verify import verify
    gold, answer = _parsed(solution), _parsed(completion)
    return bool(gold and answer and verify(list(gold), list(answer)))
