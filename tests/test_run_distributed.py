"""`run` under torchrun with 2 CPU processes: the same results as one process, and the whole launch's work
counted in results.json."""
import json
import os
import subprocess
import sys

from conftest import DATA_DIR, REPO, STORIES_BIN, needs_shared

pytestmark = needs_shared  # reads ../shared

ARGS = ["run_eval.py", "run", "--model", str(STORIES_BIN), "--tasks", "boolq,mmlu", "--data-dir", str(DATA_DIR),
        "--limit", "24", "--no-progress", "--deterministic", "--output-dir"]


def test_two_processes_give_the_results_of_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    # torchrun gives each rank one thread; so does the single process, or float sums would differ in order
    subprocess.run([sys.executable, *ARGS, str(one)], cwd=REPO, check=True, capture_output=True, timeout=300,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                               "2", *ARGS, str(two)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-2000:]
    a, b = (json.loads((d / "results.json").read_text()) for d in (one, two))
    assert a["results"] == b["results"]
    for task in ("boolq", "mmlu"):
        assert b["cost"][task]["requests_computed"] == a["cost"][task]["requests_computed"] > 0
    assert (one / "samples" / "mmlu.jsonl").read_text() == (two / "samples" / "mmlu.jsonl").read_text()
