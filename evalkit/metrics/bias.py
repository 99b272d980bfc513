"""Likelihood rules of the bias benchmarks (LLaMA paper, section 5), computed from the same scores.

Two sentences or two continuations are compared by one of two rules:
- "perplexity":    the one with the lower perplexity, i.e. the higher mean log-likelihood per token
                   (the paper's word for CrowS-Pairs and WinoGender);
- "loglikelihood": the one with the higher summed log-likelihood (lm-eval's `crows_pairs` and `winogender`).
The rules disagree exactly when the two texts have different token counts.
"""
from __future__ import annotations

import math

PREFERENCE_RULES = ("perplexity", "loglikelihood")


def score(rule: str, loglikelihood: float, num_tokens: int) -> float:
    """The quantity a rule maximises."""
    if rule == "loglikelihood":
        return loglikelihood
    if rule == "perplexity":
        if num_tokens < 1:
            raise ValueError("perplexity of an empty text")
        return loglikelihood / num_tokens
    raise ValueError(f"unknown preference rule {rule!r}")


def perplexity(loglikelihood: float, num_tokens: int) -> float:
    """exp(-mean log-likelihood per token)."""
    return math.exp(-score("perplexity", loglikelihood, num_tokens))


def prefers_first(rule: str, first: tuple[float, int], second: tuple[float, int]) -> bool:
    """Whether `rule` strictly prefers the first (loglikelihood, num_tokens) to the second; a tie is no preference."""
    return score(rule, *first) > score(rule, *second)


def pick(rule: str, scored: list[tuple[float, int]]) -> int:
    """Index of the option `rule` prefers among (loglikelihood, num_tokens) pairs; ties go to the first."""
    values = [score(rule, ll, n) for ll, n in scored]
    return max(range(len(values)), key=values.__getitem__)
