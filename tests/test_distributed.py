"""Data parallel: two torchrun processes (gloo, CPU) give exactly the one-process results, sharing one cache."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from conftest import REPO, needs_shared
from evalkit.serving.distributed import shard

pytestmark = needs_shared  # reads ../shared

DRIVER = REPO / "tests" / "scripts" / "serve_requests.py"


def test_shard_balances_cost_deterministically():
    costs = [10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5]
    shards = shard(costs, 2)
    assert sorted(i for s in shards for i in s) == list(range(len(costs)))
    assert [sum(costs[i] for i in s) for s in shards] == [15, 15]
    assert shard(costs, 2) == shards and shard(costs, 1) == [list(range(len(costs)))]


def driver(out, *launcher: str, docs: int = 40) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two ranks on two cores
    done = subprocess.run([*launcher, str(DRIVER), str(out), "--docs", str(docs)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def stored_rows(out) -> list[tuple]:
    db = sqlite3.connect(out / "cache.sqlite")
    try:
        return db.execute("SELECT request, sample FROM responses").fetchall()
    finally:
        db.close()


def test_two_processes_equal_one_and_resume_its_cache(tmp_path):
    single = driver(tmp_path / "one", sys.executable)
    earlier = driver(tmp_path / "two", sys.executable, docs=20)  # a one-process run got half way
    double = driver(tmp_path / "two", sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", "2")
    assert double["results"] == single["results"]
    assert 0 < double["computed"] < single["computed"] - earlier["computed"]  # rank 0: its shard of the rest
    assert sorted(stored_rows(tmp_path / "two")) == sorted(stored_rows(tmp_path / "one"))
