"""Run a function on T CPU processes joined by a gloo process group (torch.multiprocessing spawn), as the
ranks of one tensor-parallel replica; collect each rank's (plain Python) return value."""
from __future__ import annotations

import os
import socket
import sys
import traceback

import torch
import torch.multiprocessing as mp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, size: int, port: int, fn, args, queue) -> None:
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", rank=rank, world_size=size)
        from evalkit.model.tensor_parallel import TensorParallel
        queue.put((rank, fn(TensorParallel(rank, size, dist.group.WORLD), *args), None))
        dist.destroy_process_group()
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test with it
        queue.put((rank, None, traceback.format_exc()))


def run_ranks(size: int, fn, *args, timeout: float = 240.0) -> list:
    """[fn(TensorParallel(rank, size, group), *args) for each rank], each rank in its own process."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    context = mp.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    processes = [context.Process(target=_rank, args=(r, size, port, fn, args, queue)) for r in range(size)]
    for p in processes:
        p.start()
    results: dict[int, object] = {}
    try:
        for _ in range(size):
            rank, value, error = queue.get(timeout=timeout)
            if error:
                raise AssertionError(f"rank {rank} failed:\n{error}")
            results[rank] = value
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return [results[r] for r in range(size)]
