"""Continuous batching (engine/generation.py): a waiting prompt joins the running batch when rows free up,
and every sample is the one a static batch draws (greedy and seeded sampling), at any batch size and
however often the host reads the decoding state."""
from __future__ import annotations

import pytest

from evalkit.engine.batching import BatchPolicy
from evalkit.engine.generation import generate
from evalkit.engine.stats import EngineStats
from evalkit.requests import GenerateRequest

PREAMBLE = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
            "One day, she saw a big red ball.\n\n")


def requests() -> list[GenerateRequest]:
    greedy = [GenerateRequest(PREAMBLE + q, until=(".",), max_new_tokens=20 + 9 * i)
              for i, q in enumerate(["Tom had a dog.", "The sun was hot. Ben", "Lily said", "A cat", "Sue ran"])]
    sampled = [GenerateRequest(PREAMBLE + "Tom", max_new_tokens=25, temperature=0.9, top_p=0.9, n=4, seed=4),
               GenerateRequest("The dog", until=("!", " the"), max_new_tokens=30, temperature=1.0, n=3, seed=2),
               GenerateRequest("Ben and Sue", max_new_tokens=12, temperature=0.7, n=2, seed=9)]
    return greedy + sampled + [GenerateRequest("Tom went to", until=("\n",), max_new_tokens=40)]


def run(stories, continuous: bool, rows: int, sync_every: int = 1):
    stats = EngineStats()
    prompts = {r: (stories.tokenizer.encode(r.context, bos=True), r.max_new_tokens) for r in requests()}
    texts = generate(stories.model, stories.tokenizer, prompts, BatchPolicy(rows, 1 << 30, False), stats, {},
                     sync_every, continuous=continuous)
    return texts, stats


@pytest.mark.parametrize("rows, sync_every", [(3, 1), (5, 4)])
def test_continuous_equals_static(stories, rows, sync_every):
    static, before = run(stories, False, rows)
    continuous, after = run(stories, True, rows, sync_every)
    assert continuous == static
    assert len(set(static[requests()[5]])) > 1  # samples differ
    assert after.samples_generated == before.samples_generated == 5 + 4 + 3 + 2 + 1
    if sync_every == 1:
        assert after.tokens_generated == before.tokens_generated
        assert after.forward_calls < before.forward_calls  # joiners fill rows the static batches leave idle


def test_static_batches_at_any_size_draw_the_same_samples(stories):
    assert run(stories, True, 64)[0] == run(stories, True, 2)[0] == run(stories, False, 64)[0]
