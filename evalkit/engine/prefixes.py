"""Shared prefixes across different contexts: a few-shot preamble, or a passage asked several questions.

Contexts are sorted as token sequences, so contexts sharing a prefix sit next to each other and the
common prefix of a run of them is that of its first and last. A run whose common prefix is long
enough becomes a family: the engine forwards the prefix once and forks its KV cache to every member.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import numpy as np

T = TypeVar("T")

MIN_SHARED_PREFIX = 32  # tokens: below this, a separate prefix forward saves less than it costs


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(differ[0]) if len(differ) else n


def families(items: list[T], context: Callable[[T], tuple[int, ...]]) -> list[tuple[tuple[int, ...], list[T]]]:
    """(shared prefix, members) for every item; items that share no long prefix come with prefix ().

    A family's prefix stops one token short of its shortest context, so every member still forwards
    at least its last context token (which predicts the continuation). A run is cut where the common
    prefix would fall below MIN_SHARED_PREFIX or below half of what its first two members share, so a
    short common start does not swallow a long shared preamble.
    """
    ordered = sorted(items, key=context)
    out: list[tuple[tuple[int, ...], list[T]]] = []
    alone: list[T] = []
    i = 0
    while i < len(ordered):
        j, shared = i + 1, None
        while j < len(ordered):
            length = common_prefix_length(context(ordered[i]), context(ordered[j]))
            if length < MIN_SHARED_PREFIX or (shared is not None and 2 * length < shared):
                break
            shared = length if shared is None else min(shared, length)
            j += 1
        members = ordered[i:j]
        prefix_len = min([shared or 0] + [len(context(m)) - 1 for m in members])
        if len(members) > 1 and prefix_len >= MIN_SHARED_PREFIX:
            out.append((context(members[0])[:prefix_len], members))
        else:
            alone.extend(members)
        i = j
    if alone:
        out.append(((), alone))
    return out
