"""The `run` command end to end, as a user runs it: files written, their schema, and clear refusals."""
import json
import subprocess
from datetime import datetime, timedelta, timezone
import sys
from pathlib import Path

import pytest

from conftest import REPO

RUN = [sys.executable, str(REPO / "run_eval.py"), "run"]


def run(*args, check=True):
    proc = subprocess.run([*RUN, *args, "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run("--model", "tiny", "--tasks", "boolq,arc_easy,mmlu", "--examples", "--output-dir", str(out))
    return out


def test_results_json_has_metrics_stderr_protocol_model_versions(demo_out):
    doc = json.loads((demo_out / "results.json").read_text())
    boolq = doc["results"]["boolq"]
    assert set(boolq) >= {"acc", "acc_stderr", "acc_char", "acc_answer", "acc_answer_stderr", "n"}
    assert boolq["n"] == len((demo_out / "samples" / "boolq.jsonl").read_text().splitlines())
    assert 0.0 <= boolq["acc_answer"] <= 1.0 and boolq["acc_answer_stderr"] >= 0.0
    protocol = doc["protocol"]["boolq"]
    assert protocol["headline_metric"] == "acc_answer" and len(protocol["prompt_hash"]) == 64
    assert doc["protocol"]["mmlu"]["num_fewshot"] == 5
    assert set(doc["results"]["mmlu"]) >= {"acc", "acc_stem", "acc_humanities", "acc_social_sciences",
                                           "acc_other"} & set(doc["results"]["mmlu"])
    assert doc["model"]["name"] == "tiny" and doc["model"]["params"] > 0 and doc["model"]["fingerprint"]
    assert {"evalkit", "torch", "python"} <= set(doc["versions"])
    finished = datetime.fromisoformat(doc["date"])
    assert finished.tzinfo is not None and abs(datetime.now(timezone.utc) - finished) < timedelta(hours=1)
    assert doc["cost"]["boolq"]["tokens_forwarded"] > 0


def test_samples_hold_prompt_target_prediction_choices_loglikelihoods(demo_out):
    lines = [json.loads(line) for line in (demo_out / "samples" / "arc_easy.jsonl").read_text().splitlines()]
    for i, sample in enumerate(lines):
        assert sample["doc_id"] == i
        assert sample["prompt"].startswith("Question:") and sample["prompt"].endswith("Answer:")
        assert len(sample["choices"]) == len(sample["loglikelihoods"]) >= 3
        assert all(ll < 0 for ll in sample["loglikelihoods"])
        assert 0 <= sample["target"] < len(sample["choices"]) and 0 <= sample["prediction"] < len(sample["choices"])


def test_reports_are_written_with_the_model_row(demo_out):
    markdown = (demo_out / "report.md").read_text()
    assert "Table 3" in markdown and "Table 9" in markdown and "| tiny" in markdown
    assert "\\begin{tabular}" in (demo_out / "report.tex").read_text()


def test_rerun_is_served_from_the_cache_with_identical_results(demo_out, tmp_path):
    before = json.loads((demo_out / "results.json").read_text())
    run("--model", "tiny", "--tasks", "boolq,arc_easy,mmlu", "--examples", "--output-dir", str(demo_out))
    after = json.loads((demo_out / "results.json").read_text())
    assert after["results"] == before["results"]
    assert after["cost"]["boolq"]["tokens_forwarded"] == 0  # nothing recomputed


@pytest.mark.parametrize("args, message", [
    (["--tasks", "no_such_task"], "unknown task 'no_such_task'"),
    (["--suite", "table99"], "unknown task 'table99'"),
    (["--tasks", "boolq", "--batch-size", "zero"], "--batch-size"),
    (["--tasks", "boolq", "--limit", "0"], "--limit"),
    (["--tasks", "race_middle", "--num-fewshot", "3"], "declares no few-shot split"),
    (["--tasks", "boolq", "--model", "/no/such/model"], "/no/such/model"),
    (["--tasks", "boolq", "--data-dir", "/no/such/dir"], "/no/such/dir"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = run("--output-dir", str(tmp_path), *args, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_bad_flag_is_exit_2(tmp_path):
    proc = run("--output-dir", str(tmp_path), "--tasks", "boolq", "--no-such-flag", check=False)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr
