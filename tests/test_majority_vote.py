"""Majority vote (maj1@k) against votes computed by hand, ties included."""
import pytest

from evalkit.metrics.majority import majority_vote


@pytest.mark.parametrize("answers, winner, counts, index", [
    (["7"], "7", {"7": 1}, 0),
    (["3", "7", "7", "3", "7"], "7", {"3": 2, "7": 3}, 1),
    # a tie: both have 2 votes; "b" reached 2 at the third sample, "a" only at the fourth
    (["a", "b", "b", "a"], "b", {"a": 2, "b": 2}, 1),
    # a tie of singletons: the first answer reached 1 first
    (["x", "y", "z"], "x", {"x": 1, "y": 1, "z": 1}, 0),
    # samples without an answer do not vote, even when they are the majority
    ([None, None, "4", None], "4", {"4": 1}, 2),
    # three-way tie at 2: "q" completes its pair first (index 3)
    (["p", "q", "r", "q", "p", "r"], "q", {"p": 2, "q": 2, "r": 2}, 1),
])
def test_votes_by_hand(answers, winner, counts, index):
    vote = majority_vote(answers)
    assert (vote.winner, vote.counts, vote.winner_index) == (winner, counts, index)
    assert list(vote.counts) == list(counts)  # in order of first appearance


def test_no_answers_no_winner():
    vote = majority_vote([None, None])
    assert (vote.winner, vote.counts, vote.winner_index) == (None, {}, None)
