"""pass@k: the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

With n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), computed as the product
1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the huge binomials.
"""
from __future__ import annotations


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) passes."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(passed: list[list[bool]], k: int) -> float | None:
    """Mean pass@k over problems; None unless every problem has at least k samples."""
    if not passed or any(len(p) < k for p in passed):
        return None
    return sum(pass_at_k(len(p), sum(p), k) for p in passed) / len(passed)
