"""Test driver: two tensor-parallel ranks told different free-memory figures serve the same requests.

    torchrun --nproc_per_node 2 tests/scripts/tp_budgets.py OUT BYTES_RANK0 BYTES_RANK1

Each rank loads stories260K split two ways with `--device-memory` set to its own figure (as two GPUs
whose free memory differs by a few MiB), serves a mix of scoring and sampled generation requests with
batch size auto, and writes OUT/rank{R}.json: its batch budgets, its engine's counters and its results.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's evalkit, whatever is installed

from evalkit.backends import llama  # noqa: E402
from evalkit.backends.base import BackendOptions  # noqa: E402
from evalkit.serving.dispatch import dispatch  # noqa: E402
from evalkit.serving.distributed import finish, layout  # noqa: E402

from serve_requests import STORIES_BIN, build_requests  # noqa: E402  (this folder)


def main() -> None:
    out, figures = Path(sys.argv[1]), [int(x) for x in sys.argv[2:4]]
    torch.set_num_threads(1)
    rank = int(__import__("os").environ["RANK"])
    backend = llama.load(BackendOptions(model=str(STORIES_BIN), tensor_parallel=2, device_memory=figures[rank]))
    results = dispatch(backend, build_requests(12), progress=False)
    policy = backend.engine.policy
    (out / f"rank{layout().tp_rank}.json").write_text(json.dumps({
        "budgets": [policy.max_rows, policy.max_tokens, policy.slot_budget],
        "stats": backend.stats.as_dict(),
        "results": [dataclasses.asdict(r) for r in results]}))
    finish()


if __name__ == "__main__":
    main()
