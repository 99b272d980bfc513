"""Data parallelism across processes: shard work by rank, compute, gather every result on every rank.

Launched as `accelerate launch run_eval.py ...` or `torchrun --nproc_per_node N run_eval.py ...`;
a plain `python run_eval.py` is the one-process case and never touches torch.distributed. accelerate's
PartialState reads the launcher's environment and sets up the process group (gloo on CPU, NCCL on GPUs).
"""
from __future__ import annotations

import functools
import heapq
from typing import Callable, TypeVar

import torch
from accelerate import PartialState
from accelerate.utils import gather_object

from evalkit.errors import EvalkitError

Item = TypeVar("Item")
Out = TypeVar("Out")


@functools.cache
def state() -> PartialState:
    """The process's place in the launch (one process when no launcher set RANK/WORLD_SIZE)."""
    return PartialState(cpu=not torch.cuda.is_available())


def is_main_process() -> bool:
    """True on rank 0 only: the one process that writes results files and prints summaries."""
    return state().is_main_process


def device() -> torch.device:
    """The device this rank should load the model on (its own GPU under a launcher)."""
    return state().device


def main_process_first():
    """Context manager: rank 0 runs the block first (e.g. creates the shared SQLite cache and switches it
    to WAL, which concurrent first opens can fail with "database is locked"), then the other ranks."""
    return state().main_process_first()


def shard(costs: list[float], num_shards: int) -> list[list[int]]:
    """Indices split into num_shards lists of about equal total cost: costliest first, each to the least
    loaded shard (ties to the lowest rank), so every rank computes the same split without talking."""
    loads = [(0.0, rank) for rank in range(num_shards)]
    shards: list[list[int]] = [[] for _ in range(num_shards)]
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, rank = heapq.heappop(loads)
        shards[rank].append(index)
        heapq.heappush(loads, (load + costs[index], rank))
    return [sorted(indices) for indices in shards]


def shard_and_gather(items: list[Item], compute: Callable[[list[Item]], list[Out]],
                     cost: Callable[[Item], float]) -> list[Out]:
    """compute(items) as one process would, each rank doing its shard; every rank gets all outputs in order.

    Every rank must pass the same items in the same order; that is checked, since a mismatch would
    silently drop or duplicate work. The check is a collective, so it also waits for all ranks.
    """
    ranks = state().num_processes
    if ranks == 1:
        return compute(items)
    counts = gather_object([len(items)])
    if len(set(counts)) != 1:
        raise EvalkitError(f"data parallel: ranks were given different numbers of items {counts}")
    mine = shard([cost(item) for item in items], ranks)[state().process_index]
    outputs = compute([items[i] for i in mine])
    gathered = gather_object(list(zip(mine, outputs)))
    ordered: list[Out] = [None] * len(items)  # type: ignore[list-item]
    for index, output in gathered:
        ordered[index] = output
    return ordered


def sum_over_ranks(counts: dict[str, int]) -> dict[str, int]:
    """Counters added up over all ranks (a collective: every rank must call it), so that results report
    the work of the whole launch, not of rank 0 alone."""
    if state().num_processes == 1:
        return counts
    total: dict[str, int] = {}
    for rank_counts in gather_object([counts]):
        for key, value in rank_counts.items():
            total[key] = total.get(key, 0) + value
    return total


def finish() -> None:
    """End a launch cleanly: wait for every rank (rank 0 may still be writing), then tear the process
    group down, since a gloo group left to interpreter exit can abort the process."""
    if state().num_processes == 1:
        return
    state().wait_for_everyone()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
