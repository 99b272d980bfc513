"""`run --tensor-parallel 2` under torchrun with 4 CPU processes (2 replicas of 2 ranks) gives the per-document
outputs of one process; refusals come as one line, exit 2, before any model is loaded."""
import json
import os
import subprocess
import sys

import pytest

from conftest import DATA_DIR, REPO, STORIES_BIN, needs_shared

ARGS = ["run_eval.py", "run", "--model", str(STORIES_BIN), "--tasks", "hellaswag,arc_easy", "--data-dir",
        str(DATA_DIR), "--limit", "10", "--no-progress", "--output-dir"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def samples(folder, task: str) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples" / f"{task}.jsonl").read_text().splitlines()]


@pytest.mark.slow
@needs_shared
def test_two_replicas_of_two_ranks_give_the_results_of_one_process(tmp_path):
    one, four = tmp_path / "one", tmp_path / "four"
    subprocess.run([sys.executable, *ARGS, str(one)], cwd=REPO, check=True, capture_output=True, timeout=300, env=ENV)
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4",
                               *ARGS, str(four), "--tensor-parallel", "2"], cwd=REPO, capture_output=True, text=True,
                              timeout=300, env=ENV)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("wrote ") == 1  # rank 0 alone writes and says so
    a, b = (json.loads((d / "results.json").read_text()) for d in (one, four))
    assert b["model"]["tensor_parallel"] == 2 and b["model"]["params"] == a["model"]["params"]
    for task in ("hellaswag", "arc_easy"):
        assert a["results"][task] == b["results"][task]
        assert b["cost"][task]["requests_computed"] == a["cost"][task]["requests_computed"] > 0  # each replica once
        for x, y in zip(samples(one, task), samples(four, task), strict=True):
            assert x["prediction"] == y["prediction"] and x["metrics"] == y["metrics"]
            assert max(abs(p - q) for p, q in zip(x["loglikelihoods"], y["loglikelihoods"])) < 1e-4


@pytest.mark.parametrize("flags, env, says", [
    (["--tensor-parallel", "2"], {}, "launch them with torchrun --nproc_per_node 2"),
    (["--tensor-parallel", "2"], {"WORLD_SIZE": "3"}, "the launch has 3 processes, not a multiple of 2"),
    (["--tensor-parallel", "0"], {}, "expected a positive integer"),
    (["--tensor-parallel", "2", "--backend", "hf"], {"WORLD_SIZE": "2"}, "applies to the llama backend"),
])
def test_refused_in_one_line_before_loading(tmp_path, flags, env, says):
    done = subprocess.run([sys.executable, "run_eval.py", "run", "--model", "tiny", "--tasks", "piqa", "--examples",
                           "--output-dir", str(tmp_path / "out"), *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**ENV, **env})
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out").exists()
