"""Batch planning: budgets, at least one item per batch, halving the budget on out-of-memory."""
from __future__ import annotations

import pytest
import torch

from evalkit.engine.batching import BatchPolicy, run_batched
from evalkit.errors import UsageError


def test_fixed_batch_size_caps_rows_but_never_splits_an_item():
    policy = BatchPolicy.from_setting(2, deterministic=False, device=torch.device("cpu"))
    assert policy.take([(1, 9), (1, 8), (1, 7)], 0) == 2
    assert policy.take([(5, 9), (1, 8)], 0) == 1  # an item wider than the batch still runs, alone


def test_auto_halves_the_token_budget_on_out_of_memory_and_keeps_order():
    policy = BatchPolicy(max_rows=1 << 30, max_tokens=64, auto=True)
    seen, retries = [], []

    def run(batch):
        if len(batch) * 10 > 20:  # pretend anything above 20 tokens exhausts memory
            raise torch.OutOfMemoryError("fake")
        seen.extend(batch)

    run_batched(list(range(7)), lambda i: (1, 10), run, policy, lambda: retries.append(1))
    assert seen == list(range(7)) and policy.max_tokens == 16 and len(retries) == 2


def test_fixed_batch_size_does_not_hide_out_of_memory():
    def run(batch):
        raise torch.OutOfMemoryError("fake")

    with pytest.raises(torch.OutOfMemoryError):
        run_batched([1, 2], lambda i: (1, 1), run, BatchPolicy.from_setting(4, False, torch.device("cpu")), lambda: None)


@pytest.mark.parametrize("bad", [0, -1, "big", 1.5, True])
def test_bad_batch_size_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        BatchPolicy.from_setting(bad, deterministic=False, device=torch.device("cpu"))
