"""An exit status is a claim: a scorer or judge that cannot be reached stops the run after a bounded wait
with one line and exit 3, and results.json and the reports record what was done, marked incomplete
(never a 0, never a complete row)."""
import json
import os
import socket
import subprocess
import sys
import time

from conftest import DATA_DIR, FIXTURES, REPO, STORIES_BIN, needs_shared, needs_stories


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def run(*args, env=None):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", str(STORIES_BIN),
                           "--no-progress", *args], capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, **(env or {})})
    return proc, time.monotonic() - start


@needs_stories
def test_unreachable_perspective_stops_after_a_bounded_wait_and_records_what_was_done(tmp_path):
    out = tmp_path / "out"
    url = closed_url() + "/v1alpha1/comments:analyze"
    proc, seconds = run("--tasks", "realtoxicityprompts_basic,realtoxicityprompts_respectful", "--data-dir",
                        str(FIXTURES), "--limit", "3", "--max-new-tokens", "6", "--perspective-url", url,
                        "--perspective-give-up-s", "2", "--output-dir", str(out), env={"PERSPECTIVE_API_KEY": "k"})
    assert proc.returncode == 3, proc.stderr
    line, = proc.stderr.splitlines()
    assert line.startswith(f"error: incomplete: realtoxicityprompts_basic: Perspective API at {url} gave no verdict "
                           "for 2 s (last: ConnectionError)"), line
    assert "realtoxicityprompts_respectful: not run" in line
    assert seconds < 120  # generation, then 2 s without a verdict (was: 9 attempts per text, ~190 s each)
    results = json.loads((out / "results.json").read_text())
    assert results["results"] == {}  # no n = 0 row, no toxicity of 0
    assert set(results["incomplete"]) == {"realtoxicityprompts_basic", "realtoxicityprompts_respectful"}
    report = (out / "report.md").read_text()
    assert "incomplete: Perspective API at" in report and "not run: the run stopped at realtoxicityprompts_basic" \
        in report


@needs_shared
def test_unreachable_judge_ends_incomplete_with_the_generations_kept(tmp_path):
    out = tmp_path / "out"
    proc, _ = run("--tasks", "truthfulqa_gen", "--data-dir", str(DATA_DIR), "--limit", "2", "--max-new-tokens", "4",
                  "--truth-judge", f"openai:judge@{closed_url()}/v1", "--info-judge", f"llama:{STORIES_BIN}",
                  "--output-dir", str(out))
    assert proc.returncode == 3, proc.stderr
    line, = proc.stderr.splitlines()
    assert line.startswith("error: incomplete: truthfulqa_gen: truth_judge: GET http") and "/v1/models" in line
    results = json.loads((out / "results.json").read_text())
    assert results["results"] == {} and "truthfulqa_gen" in results["incomplete"]
    assert (out / "cache.sqlite").exists()  # the generations are kept: a rerun with a judge resumes there


@needs_stories
def test_a_complete_run_exits_0_without_an_incomplete_field(tmp_path):
    out = tmp_path / "out"
    proc, _ = run("--tasks", "realtoxicityprompts_basic", "--data-dir", str(FIXTURES), "--limit", "2",
                  "--max-new-tokens", "4", "--toxicity-scorer", "local", "--output-dir", str(out))
    if proc.returncode == 2 and "profanity" in proc.stderr:
        import pytest
        pytest.skip("the local toxicity scorer's package is not installed")
    assert proc.returncode == 0, proc.stderr
    assert "incomplete" not in json.loads((out / "results.json").read_text())
