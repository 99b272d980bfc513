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
    (["--device", "cuda:1"], {"WORLD_SIZE": "2"}, "would put every rank on one GPU: give --device cuda"),
    (["--collective-timeout", "0"], {}, "--collective-timeout: expected a positive number of minutes"),
    (["--device-memory", "lots"], {}, "--device-memory 'lots': expected a size"),
])
def test_refused_in_one_line_before_loading(tmp_path, flags, env, says):
    done = subprocess.run([sys.executable, "run_eval.py", "run", "--model", "tiny", "--tasks", "piqa", "--examples",
                           "--output-dir", str(tmp_path / "out"), *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**ENV, **env})
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out").exists()


@needs_shared
def test_ranks_told_different_free_memory_choose_the_same_batches(tmp_path):
    """Two GPUs of one replica rarely have the same free memory; each rank sizing its own batches would pair
    one rank's forward with another's next batch (a hang). They agree on the smaller budgets first."""
    from evalkit.engine.batching import BatchPolicy
    from evalkit.model.footprint import Footprint
    from evalkit.model.loaders import load_model

    small, large = 600_000, 900_000  # bytes: budgets of about 180 and 270 slots on one rank of stories260K
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(REPO / "tests" / "scripts" / "tp_budgets.py"), str(tmp_path), str(large), str(small)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    model = load_model(str(STORIES_BIN)).model
    expected = BatchPolicy.from_memory_budget(small, Footprint(model.cfg, 4, 2, "cpu"), model.cfg.max_seq_len)
    own = BatchPolicy.from_memory_budget(large, Footprint(model.cfg, 4, 2, "cpu"), model.cfg.max_seq_len)
    assert own.max_tokens > expected.max_tokens  # the figures alone would size different batches
    for rank in ranks:
        assert rank["budgets"] == [expected.max_rows, expected.max_tokens, expected.slot_budget]
    a, b = ({k: v for k, v in r["stats"].items() if k != "scoring_seconds"} for r in ranks)
    assert a == b and a["forward_calls"] > 3  # the same batches, several of them
    assert ranks[0]["results"] == ranks[1]["results"]
