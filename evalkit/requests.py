"""The contract between tasks and backends: plain, hashable request and result types.

Tasks build these; a backend (evalkit/backends) answers them; neither side knows the other's internals.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), summed over the continuation's tokens."""
    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    loglikelihood: float  # sum of natural-log probabilities of the continuation tokens
    num_tokens: int       # continuation tokens scored
    is_greedy: bool       # greedy decoding from the context would have produced them


@dataclass(frozen=True)
class RollingLoglikelihoodRequest:
    """log P(text) of a whole text, in windows of the model's maximum length."""
    text: str


@dataclass(frozen=True)
class RollingLoglikelihoodResult:
    loglikelihood: float
    num_tokens: int


@dataclass(frozen=True)
class GenerateRequest:
    """n continuations of context, each cut at the first stop sequence in `until`.

    temperature 0 means greedy; sampling is reproducible from (request, seed, sample index).
    """
    context: str
    until: tuple[str, ...] = ()
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0


def cut_at_stop(text: str, until: tuple[str, ...]) -> str:
    """text up to the earliest occurrence of any (non-empty) stop string."""
    found = [text.find(stop) for stop in until if stop and stop in text]
    return text[:min(found)] if found else text


@dataclass(frozen=True)
class GenerateResult:
    texts: tuple[str, ...]  # n continuations, stop sequences removed


Request = LoglikelihoodRequest | RollingLoglikelihoodRequest | GenerateRequest
Result = LoglikelihoodResult | RollingLoglikelihoodResult | GenerateResult
