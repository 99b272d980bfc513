"""A real training-like series from one trained model: stories260K's weights interpolated toward a
seeded random initialisation, written as llama2.c legacy .bin files (header unchanged)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

HEADER_BYTES = 7 * 4  # seven int32 fields, then fp32 tensors (evalkit/model/loaders/llama2c.py)
INIT_STD = 0.02       # llama2.c's initialisation of linear and embedding weights


def write_interpolated(source: Path, fraction: float, path: Path, seed: int = 0) -> Path:
    """(1 - fraction) * random + fraction * trained: fraction 0 is the random init, 1 the trained model."""
    raw = source.read_bytes()
    trained = np.frombuffer(raw, dtype="<f4", offset=HEADER_BYTES)  # (all weights,)
    random = np.random.default_rng(seed).normal(0.0, INIT_STD, size=trained.shape).astype("<f4")
    mixed = ((1.0 - fraction) * random + fraction * trained).astype("<f4")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw[:HEADER_BYTES] + mixed.tobytes())
    for sidecar in ("tok512.model",):  # the loader finds the tokenizer beside the .bin
        (path.parent / sidecar).write_bytes((source.parent / sidecar).read_bytes())
    return path
