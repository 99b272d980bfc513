"""Data parallelism across processes: shard work by replica, compute, gather every result on every rank.

Launched as `accelerate launch run_eval.py ...` or `torchrun --nproc_per_node N run_eval.py ...`;
a plain `python run_eval.py` is the one-process case and never touches torch.distributed. accelerate's
PartialState reads the launcher's environment and sets up the process group (gloo on CPU, NCCL on GPUs).

With `--tensor-parallel T` the N = T x R processes form a (dp, tp) DeviceMesh: R replicas of the model,
each split over T consecutive ranks. The T ranks of a replica get the same work (they compute it
together); only each replica's tensor-parallel rank 0 contributes results and counters to the gathers.

Every collective waits up to `--collective-timeout` minutes (default COLLECTIVE_TIMEOUT_MINUTES) for the
other ranks: ranks meet at a gather only when each has finished its shard, and shards balanced by an
estimate of their cost can still end far apart (NCCL's own default, 10 minutes, would kill such a run).
"""
from __future__ import annotations

import datetime
import functools
import heapq
import os
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch
from accelerate import PartialState
from accelerate.utils import gather_object

from evalkit.errors import EvalkitError, UsageError
from evalkit.model.tensor_parallel import TensorParallel

Item = TypeVar("Item")
Out = TypeVar("Out")

COLLECTIVE_TIMEOUT_MINUTES = 180.0  # a rank may finish its shard hours before another (a long generation task)
_TIMEOUT = [datetime.timedelta(minutes=COLLECTIVE_TIMEOUT_MINUTES)]  # set by set_collective_timeout


def set_collective_timeout(minutes: float) -> None:
    """--collective-timeout: how long a collective waits for the slowest rank; set before the process group
    starts (the first state() call), since a group keeps the timeout it was created with."""
    if not minutes > 0:
        raise UsageError(f"--collective-timeout: expected a positive number of minutes, got {minutes}")
    if state.cache_info().currsize and _TIMEOUT[0] != datetime.timedelta(minutes=minutes):
        raise UsageError("--collective-timeout: the process group has already started")
    _TIMEOUT[0] = datetime.timedelta(minutes=minutes)


@functools.cache
def state() -> PartialState:
    """The process's place in the launch (one process when no launcher set RANK/WORLD_SIZE), its process
    group waiting up to the collective timeout."""
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return PartialState(cpu=not torch.cuda.is_available(), **({"timeout": _TIMEOUT[0]} if launched else {}))


@dataclass(frozen=True)
class Layout:
    """This process's place in a launch of `replicas` x `tp_size` processes."""
    replicas: int  # data-parallel replicas: the work is sharded over these
    replica: int
    tp_size: int   # ranks per replica (1 without tensor parallelism)
    tp_rank: int


_TENSOR_PARALLEL = [1]  # set once by tensor_parallel(): ranks per replica


def layout() -> Layout:
    size = _TENSOR_PARALLEL[0]
    world, rank = state().num_processes, state().process_index
    return Layout(world // size, rank // size, size, rank % size)


def check_tensor_parallel(size: int) -> None:
    """--tensor-parallel T: a launcher started a whole number of T-rank replicas. Reads only the launcher's
    environment, so it refuses before any process group starts or any weight is read."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if size < 1:
        raise UsageError(f"--tensor-parallel: expected a positive integer, got {size}")
    if size > 1 and world == 1:
        raise UsageError(f"--tensor-parallel {size} splits the model over {size} processes: launch them with "
                         f"torchrun --nproc_per_node {size} run_eval.py ... (or a multiple of {size} for "
                         "data-parallel replicas)")
    if world % size:
        raise UsageError(f"--tensor-parallel {size}: the launch has {world} processes, not a multiple of {size} "
                         f"(processes = tensor-parallel size x data-parallel replicas)")


def tensor_parallel(size: int) -> TensorParallel:
    """This rank's tensor-parallel group: the "tp" dimension of a (dp, tp) DeviceMesh over the launch
    (a collective: every rank calls it). Consecutive ranks form a replica, so on one node with
    torchrun a replica's ranks are neighbouring GPUs."""
    check_tensor_parallel(size)
    if size == 1:
        return TensorParallel(0, 1, None)
    from torch.distributed.device_mesh import init_device_mesh
    world = state().num_processes
    options = {dim: _group_options(state().backend) for dim in ("dp", "tp")}  # the mesh's groups: the same timeout
    mesh = init_device_mesh(state().device.type, (world // size, size), mesh_dim_names=("dp", "tp"),
                            backend_override=options)
    _TENSOR_PARALLEL[0] = size
    return TensorParallel(mesh.get_local_rank("tp"), size, mesh.get_group("tp"))


def _group_options(backend: str):
    """Options that give a new process group the collective timeout (a DeviceMesh's groups otherwise take
    the backend's default); NCCL groups want their own Options type."""
    if backend == "nccl":
        options = torch.distributed.ProcessGroupNCCL.Options()
        options._timeout = _TIMEOUT[0]
        return options
    return torch._C._distributed_c10d.Backend.Options(backend, _TIMEOUT[0])


def agreed_minimum(values: list[int], group) -> list[int]:
    """Each value's minimum over the ranks of `group` (a collective: every rank of it calls it), so that
    ranks which must run the same batches choose them from the same budgets."""
    if group is None:
        return values
    figures = torch.tensor(values, dtype=torch.int64, device=device() if state().backend == "nccl" else "cpu")
    torch.distributed.all_reduce(figures, op=torch.distributed.ReduceOp.MIN, group=group)
    return figures.tolist()


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
    """compute(items) as one process would, each replica doing its shard; every rank gets all outputs in order.

    Every rank must pass the same items in the same order; that is checked, since a mismatch would
    silently drop or duplicate work (or, under tensor parallelism, pair mismatched collectives). The check
    is a collective, so it also waits for all ranks.
    """
    if state().num_processes == 1:
        return compute(items)
    counts = gather_object([len(items)])
    if len(set(counts)) != 1:
        raise EvalkitError(f"data parallel: ranks were given different numbers of items {counts}")
    place = layout()
    mine = shard([cost(item) for item in items], place.replicas)[place.replica]
    outputs = compute([items[i] for i in mine])
    gathered = gather_object(list(zip(mine, outputs)) if place.tp_rank == 0 else [])
    ordered: list[Out] = [None] * len(items)  # type: ignore[list-item]
    for index, output in gathered:
        ordered[index] = output
    return ordered


def sum_over_ranks(counts: dict[str, int]) -> dict[str, int]:
    """Counters added up over all replicas (a collective: every rank must call it), so that results report
    the work of the whole launch, not of rank 0 alone; a replica's tensor-parallel ranks count once."""
    if state().num_processes == 1:
        return counts
    total: dict[str, int] = {}
    for rank_counts in gather_object([counts if layout().tp_rank == 0 else {}]):
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
