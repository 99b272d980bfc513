"""Bootstrap standard errors of task metrics, resampling documents with a fixed seed."""
from __future__ import annotations

from typing import Callable

import numpy as np

from evalkit.task import SampleResult

ITERATIONS = 1000


def bootstrap_stderr(samples: list[SampleResult], aggregate: Callable[[list[SampleResult]], dict[str, float]],
                     seed: int = 1234, iterations: int = ITERATIONS) -> dict[str, float]:
    """Standard deviation of each aggregate metric over resamples of the documents (with replacement).

    Metrics that are means of a per-document value (the common case) are resampled in one vectorized
    step; any other aggregate metric is recomputed by `aggregate` on fewer resamples (100).
    """
    if len(samples) < 2:
        return {}
    rng = np.random.default_rng(seed)
    n = len(samples)
    indices = rng.integers(0, n, size=(iterations, n))  # (iterations, n)
    full = aggregate(samples)
    stderr: dict[str, float] = {}
    others = []
    for key, value in full.items():
        present = np.array([key in s.metrics for s in samples])
        values = np.array([float(s.metrics.get(key, 0.0)) for s in samples])
        if present.any() and np.isclose(values[present].mean(), value):
            picked_present = present[indices]  # (iterations, n)
            counts = picked_present.sum(axis=1)
            sums = (values[indices] * picked_present).sum(axis=1)
            means = sums[counts > 0] / counts[counts > 0]
            stderr[key] = float(means.std(ddof=1))
        else:
            others.append(key)
    if others:
        resampled = [aggregate([samples[i] for i in row]) for row in indices[:100]]
        for key in others:
            stderr[key] = float(np.std([r[key] for r in resampled if key in r], ddof=1))
    return stderr
