"""Batch planning: how many items go into one forward, and halving the budget when memory runs out.

Items arrive sorted longest first, so the first batch is the most expensive one: if anything runs out
of memory it does so at once, not after an hour. A fixed batch size caps the rows per forward; "auto"
caps rows x padded length by a token budget for a forward (scoring) and by a budget of KV-cache slots
for a generation batch, both halved on every out-of-memory error:
- on CPU, a token budget where matrix products are already efficient, and CACHE_SCALE times it in
  slots (a decoding row holds its whole cache but forwards one token);
- on a CUDA device (or wherever the device memory is given), budgets derived from memory: the free
  memory after the weights, less a margin, divided by a token's KV cache and activations (tokens per
  scoring forward, slots per generation batch; evalkit.model.footprint);
- on another accelerator, a large fixed token budget.
The ranks of a tensor-parallel replica must run the same batches (each forward is a chain of collectives),
so they agree on the smallest of their budgets before the first batch (`agree`) and never halve them.
The bundled engine's generation batches are planned in evalkit/engine/generation.py (`_take`: shared
preambles, a prompt whose samples exceed the slot budget split into parts that fit), with this policy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import torch

from evalkit.errors import UsageError
from evalkit.model.footprint import Footprint

T = TypeVar("T")

CPU_TOKEN_BUDGET = 4096         # tokens per forward; larger batches gain nothing on a few CPU cores
ACCELERATOR_TOKEN_BUDGET = 1 << 16
CACHE_SCALE = 8         # slots per token of budget where the budget is not derived from memory
MEMORY_FRACTION = 0.9   # of the free memory the memory-derived budgets spend: the allocator fragments
UNLIMITED = 1 << 62


@dataclass
class BatchPolicy:
    max_rows: int                 # sequences per forward
    max_tokens: int               # rows x padded length per forward
    auto: bool                    # halve the budgets on out-of-memory instead of failing
    max_slots: int | None = None  # generation: KV-cache rows x slots per batch (None: CACHE_SCALE x max_tokens)
    row_slots: int = 0            # slots' worth of memory a decoding row holds besides its cache
    from_memory: bool = False     # budgets derived from memory: generation costs count the forked prefill row

    @classmethod
    def from_setting(cls, batch_size: int | str, deterministic: bool, device: torch.device,
                     footprint: Footprint | None = None, context: int = 2048,
                     memory: int | None = None) -> "BatchPolicy":
        """`footprint` (the model's) and `context` (its window) size memory-derived budgets; `memory` is
        the free device memory in bytes (default: asked of the CUDA device; elsewhere no memory budget)."""
        if deterministic:
            return cls(1, UNLIMITED, False)  # no padding, no batch neighbours: bit-identical results
        if batch_size == "auto":
            if memory is None and device.type == "cuda" and footprint is not None:
                memory = torch.cuda.mem_get_info(device)[0]
            if memory is not None and footprint is not None:
                return cls.from_memory_budget(memory, footprint, context)
            budget = CPU_TOKEN_BUDGET if device.type == "cpu" else ACCELERATOR_TOKEN_BUDGET
            return cls(UNLIMITED, budget, True)
        if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1:
            return cls(batch_size, UNLIMITED, False)
        raise UsageError(f"batch size must be a positive integer or 'auto', not {batch_size!r}")

    @classmethod
    def from_memory_budget(cls, memory: int, footprint: Footprint, context: int) -> "BatchPolicy":
        """Budgets that keep a batch within MEMORY_FRACTION of `memory` bytes, a token (or KV slot) costing
        its K and V in every layer plus its activations: scoring forwards its tokens into a KV cache (for
        the continuations forked from it), and a generation batch's prefill fills its samples' slots (a
        prompt's prefill row counted beside its samples, see cache_cost)."""
        usable = int(memory * MEMORY_FRACTION)
        slot = footprint.kv_bytes_per_token + footprint.activation_bytes_per_token(context)
        budget = max(1, usable // slot)
        return cls(UNLIMITED, budget, True, budget, math.ceil(footprint.decode_row_bytes / slot), True)

    def agree(self, minimum: Callable[[list[int]], list[int]]) -> None:
        """Take each budget's minimum over the ranks that must batch alike: `minimum` is a collective
        (evalkit.serving.distributed.agreed_minimum). Ranks whose free memory differs by a few MiB would
        otherwise size different batches, and their collectives would no longer pair up (a hang)."""
        self.max_rows, self.max_tokens, slots = minimum([self.max_rows, self.max_tokens, self.slot_budget])
        if self.max_slots is not None:  # else slot_budget follows max_tokens, already agreed
            self.max_slots = slots

    @property
    def slot_budget(self) -> int:
        return self.max_slots if self.max_slots is not None else self.max_tokens * CACHE_SCALE

    def cache_cost(self, samples: int, slots: int) -> tuple[int, int]:
        """(rows, length) of a generation item: `samples` rows of `slots` KV slots each. A memory-derived
        budget also counts the prefill row that is forked into several samples, and each row's logits
        and sampler temporaries (row_slots)."""
        if not self.from_memory:
            return samples, slots
        return samples + (samples > 1), slots + self.row_slots

    def take(self, costs: Sequence[tuple[int, ...]], start: int, limit: int | None = None) -> int:
        """How many items from `start` fit one batch (at least one); costs are (rows, padded length) or
        (rows, padded length, tensor rows), bounded by rows <= max_rows and tensor rows x longest <= limit
        (default: the token budget). Tensor rows default to rows; a packed row of scoring holds several
        contexts (what a batch size counts) in one row of the forward (what memory counts)."""
        limit = self.max_tokens if limit is None else limit
        rows = width = longest = 0
        for i in range(start, len(costs)):
            item_rows, length = costs[i][:2]
            rows += item_rows
            width += costs[i][2] if len(costs[i]) > 2 else item_rows
            longest = max(longest, length)
            if i > start and (rows > self.max_rows or width * longest > limit):
                return i - start
        return len(costs) - start

    def halve(self, slots: bool = False) -> bool:
        """After an out-of-memory error: halve the budgets; False when they are fixed or the one in use
        (slots or tokens) cannot shrink."""
        if not self.auto or (self.slot_budget if slots else self.max_tokens) <= 1:
            return False
        self.max_slots = max(1, self.slot_budget // 2)
        self.max_tokens = max(1, self.max_tokens // 2)
        return True


def run_batched(items: list[T], cost: Callable[[T], tuple[int, ...]], run: Callable[[list[T]], None],
                policy: BatchPolicy, on_retry: Callable[[], None], slots: bool = False) -> None:
    """Call run(batch) over consecutive batches of items (already sorted, most expensive first).

    slots=True bounds batches by the policy's KV-slot budget instead of its token budget."""
    costs = [cost(item) for item in items]
    start = 0
    while start < len(items):
        limit = policy.slot_budget if slots else policy.max_tokens
        n = policy.take(costs, start, limit)
        try:
            run(items[start:start + n])
        except torch.OutOfMemoryError:
            if not policy.halve(slots):
                raise
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
