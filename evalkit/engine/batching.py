"""Batch planning: how many items go into one forward, and halving the budget when memory runs out.

Items arrive sorted longest first, so the first batch is the most expensive one: if anything runs out
of memory it does so at once, not after an hour. A fixed batch size caps the rows per forward; "auto"
caps rows x padded length by a token budget (on CPU a budget where matrix products are already
efficient; on an accelerator a large one, halved on every out-of-memory error).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import torch

from evalkit.errors import UsageError

T = TypeVar("T")

CPU_TOKEN_BUDGET = 4096         # tokens per forward; larger batches gain nothing on a few CPU cores
ACCELERATOR_TOKEN_BUDGET = 1 << 16
UNLIMITED = 1 << 62


@dataclass
class BatchPolicy:
    max_rows: int    # sequences per forward
    max_tokens: int  # rows x padded length per forward
    auto: bool       # halve max_tokens on out-of-memory instead of failing

    @classmethod
    def from_setting(cls, batch_size: int | str, deterministic: bool, device: torch.device) -> "BatchPolicy":
        if deterministic:
            return cls(1, UNLIMITED, False)  # no padding, no batch neighbours: bit-identical results
        if batch_size == "auto":
            budget = CPU_TOKEN_BUDGET if device.type == "cpu" else ACCELERATOR_TOKEN_BUDGET
            return cls(UNLIMITED, budget, True)
        if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1:
            return cls(batch_size, UNLIMITED, False)
        raise UsageError(f"batch size must be a positive integer or 'auto', not {batch_size!r}")

    def take(self, costs: Sequence[tuple[int, int]], start: int, scale: int = 1) -> int:
        """How many items from `start` fit one batch (at least one); costs are (rows, padded length).

        `scale` multiplies the token budget (generation keeps a whole KV cache, not activations)."""
        rows = longest = 0
        for i in range(start, len(costs)):
            item_rows, length = costs[i]
            rows += item_rows
            longest = max(longest, length)
            if i > start and (rows > self.max_rows or rows * longest > self.max_tokens * scale):
                return i - start
        return len(costs) - start


def run_batched(items: list[T], cost: Callable[[T], tuple[int, int]], run: Callable[[list[T]], None],
                policy: BatchPolicy, on_retry: Callable[[], None], scale: int = 1) -> None:
    """Call run(batch) over consecutive batches of items (already sorted, most expensive first)."""
    costs = [cost(item) for item in items]
    start = 0
    while start < len(items):
        n = policy.take(costs, start, scale)
        try:
            run(items[start:start + n])
        except torch.OutOfMemoryError:
            if not policy.auto or policy.max_tokens <= 1:
                raise
            policy.max_tokens //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            on_retry()
            continue
        start += n


def pad(seqs: Sequence[Sequence[int]], left: bool, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> tokens (B, T) long and real-token mask (B, T) bool, padded on the left or right."""
    width = max(len(s) for s in seqs)
    tokens = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, seq in enumerate(seqs):
        span = slice(width - len(seq), width) if left else slice(0, len(seq))
        tokens[i, span] = torch.tensor(seq, dtype=torch.long)
        mask[i, span] = True
    return tokens.to(device), mask.to(device)
