"""Shared prefixes across different contexts: a few-shot preamble, or a passage asked several questions.

Contexts are sorted as token sequences, so contexts sharing a prefix sit next to each other and the
common prefix of a run of them is the smallest common prefix of neighbours within it (an LCP interval).
A run becomes a family: its common prefix is forwarded once and its KV cache forked to every member.
Runs are chosen to minimise the tokens forwarded: a run is split where its neighbours share least
whenever the parts, each with its own longer prefix, cost less than the run as one family (MMLU: the
"The following are multiple choice questions" header is common to all subjects, but each subject's
own five shots are worth far more).
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import numpy as np

T = TypeVar("T")

MIN_SHARED_PREFIX = 32  # tokens: below this, a separate prefix forward saves less than it costs
MAX_DEPTH = 64          # nesting levels examined; deeper runs stay one family


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(differ[0]) if len(differ) else n


def families(items: list[T], context: Callable[[T], tuple[int, ...]]) -> list[tuple[tuple[int, ...], list[T]]]:
    """(shared prefix, members) covering every item once; items worth no shared prefix come with prefix ().

    A family's prefix stops one token short of its shortest context, so every member still forwards
    at least its last context token (which predicts the continuation).
    """
    ordered = sorted(items, key=context)
    contexts = [context(item) for item in ordered]
    neighbours = [common_prefix_length(a, b) for a, b in zip(contexts, contexts[1:])]  # (n-1,)
    out: list[tuple[tuple[int, ...], list[T]]] = []
    alone: list[T] = []
    for prefix_len, lo, hi in _best_runs(contexts, neighbours, 0, len(ordered), 0)[1]:
        if prefix_len:
            out.append((contexts[lo][:prefix_len], ordered[lo:hi]))
        else:
            alone.extend(ordered[lo:hi])
    if alone:
        out.append(((), alone))
    return out


def _best_runs(contexts: list[tuple[int, ...]], neighbours: list[int], lo: int, hi: int,
               depth: int) -> tuple[int, list[tuple[int, int, int]]]:
    """(tokens forwarded, [(prefix length, lo, hi)]) of the cheapest cover of contexts[lo:hi]."""
    total = sum(len(c) for c in contexts[lo:hi])
    if hi - lo == 1:
        return total, [(0, lo, hi)]
    shared = min(neighbours[lo:hi - 1])
    prefix_len = min(shared, min(len(c) for c in contexts[lo:hi]) - 1)
    if prefix_len >= MIN_SHARED_PREFIX:
        best = (total - (hi - lo - 1) * prefix_len, [(prefix_len, lo, hi)])
    else:
        best = (total, [(0, lo, hi)])
    if depth >= MAX_DEPTH:
        return best
    cuts = [k + 1 for k in range(lo, hi - 1) if neighbours[k] == shared]
    parts = [_best_runs(contexts, neighbours, a, b, depth + 1) for a, b in zip([lo] + cuts, cuts + [hi])]
    split = (sum(cost for cost, _ in parts), [run for _, runs in parts for run in runs])
    return split if split[0] < best[0] else best
