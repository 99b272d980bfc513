"""pass@k against values computed by hand from 1 - C(n-c, k) / C(n, k)."""
from math import comb

import pytest

from evalkit.metrics.pass_at_k import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n, c, k, expected", [
    (1, 0, 1, 0.0),
    (1, 1, 1, 1.0),
    (5, 0, 5, 0.0),               # c == 0
    (5, 5, 1, 1.0),               # c == n
    (5, 1, 5, 1.0),               # n == k with one correct
    (5, 2, 1, 2 / 5),             # pass@1 is the fraction correct
    (4, 1, 2, 1 - 3 / 6),         # C(3,2)/C(4,2) = 3/6
    (10, 3, 4, 1 - 35 / 210),     # C(7,4)/C(10,4) = 35/210
    (200, 7, 100, 1 - comb(193, 100) / comb(200, 100)),
])
def test_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_stable_where_binomials_overflow_floats():
    value = pass_at_k(2000, 3, 1000)
    assert value == pytest.approx(1 - comb(1997, 1000) / comb(2000, 1000), rel=1e-12)


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, -1, 1), (3, 1, 4), (3, 1, 0)])
def test_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_needs_k_samples_for_every_problem():
    assert mean_pass_at_k([[True, False], [False, False]], 1) == pytest.approx(0.25)
    assert mean_pass_at_k([[True, False], [False, False]], 2) == pytest.approx(0.5)
    assert mean_pass_at_k([[True, False, True], [False]], 2) is None
    assert mean_pass_at_k([], 1) is None
