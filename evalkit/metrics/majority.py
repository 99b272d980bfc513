"""Majority vote over k answers (maj1@k, Wang et al. 2022; Lewkowycz et al. 2022).

Answers are compared as given (already normalized by the task); samples without an answer (None)
do not vote. Ties: the answer that reached the top count first, reading the samples in order,
wins. With [a, b, b, a] both have 2 votes; b reached 2 at the third sample, a at the fourth, so b
wins.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    winner: str | None        # None when no sample gave an answer
    counts: dict[str, int]    # answer -> votes, in order of first appearance
    winner_index: int | None  # the first sample whose answer is the winner


def majority_vote(answers: list[str | None]) -> Vote:
    counts: dict[str, int] = {}
    last_seen: dict[str, int] = {}  # a leader reaches the top count at its last occurrence
    for index, answer in enumerate(answers):
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + 1
            last_seen[answer] = index
    if not counts:
        return Vote(None, {}, None)
    top = max(counts.values())
    winner = min((a for a, c in counts.items() if c == top), key=last_seen.__getitem__)
    return Vote(winner, counts, answers.index(winner))
