"""Few-shot examples: drawn reproducibly from the declared few-shot split, never the document itself."""
from __future__ import annotations

import random

from evalkit.errors import DataError


def sample_fewshot(pool: list[dict], k: int, seed: int, doc_id: int, doc: dict) -> list[dict]:
    """k examples from `pool`, chosen by a generator seeded with (seed, doc_id), excluding `doc`.

    One extra example is drawn so that dropping the document itself (when the pool is the
    evaluation split) still leaves k.
    """
    rng = random.Random(f"{seed}:{doc_id}")
    drawn = rng.sample(pool, min(k + 1, len(pool)))
    shots = [example for example in drawn if example != doc][:k]
    if len(shots) < k:  # never fewer shots than the protocol records
        raise DataError(f"{k} shots asked, but the few-shot split has only {len(shots)} other documents")
    return shots
