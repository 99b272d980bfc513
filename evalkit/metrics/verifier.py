"""MATH's second metric: Hugging Face's Math-Verify (PyPI `math-verify`), a maintained answer verifier.

Shown beside Minerva's exact match so users can see both judgements of the same answers. The gold is
the reference solution's last \\boxed{} answer; the model side is the completion itself (Math-Verify
finds its boxed or "final answer is" span with its own extraction rules). Both sides are parsed once
and cached, since maj1@k repeats answers.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> tuple:
    from math_verify import parse
    return tuple(parse(text))


def verified(gold_boxed: str, completion: str) -> bool:
    """Math-Verify's verdict: does `completion` state an answer equivalent to `gold_boxed` (the text inside
    the reference's \\boxed{})?"""
    from math_verify import verify
    gold, answer = _parsed(f"$\\boxed{{{gold_boxed}}}$"), _parsed(completion)
    return bool(gold and answer and verify(list(gold), list(answer)))
