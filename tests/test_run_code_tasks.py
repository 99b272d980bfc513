"""The run command with code tasks: opt-in execution, and scoring saved or foreign generations without a model."""
import gzip
import json
import os
import subprocess
import sys

from conftest import DATA_DIR, REPO, needs_data

RUN = [sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress"]


def run(*args, env=None):
    return subprocess.run([*RUN, *args], capture_output=True, text=True, cwd=REPO, timeout=600,
                          env=None if env is None else os.environ | env)


def humaneval_problems(count):
    with gzip.open(DATA_DIR / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f][:count]


def test_code_tasks_are_refused_without_opt_in_before_any_model_work(tmp_path):
    proc = run("--model", "/no/such/model", "--tasks", "humaneval", "--output-dir", str(tmp_path))
    assert proc.returncode == 2 and "--allow-code-execution" in proc.stderr
    assert not (tmp_path / "results.json").exists()


@needs_data
def test_loaded_canonical_solutions_pass_and_wrong_ones_fail(tmp_path):
    problems = humaneval_problems(4)
    generations = tmp_path / "gen.jsonl"
    # n = 1: one completion at each of the two temperatures; the wrong one fails pass@1 for problem 0
    lines = [{"task_id": p["task_id"], "completions": [p["canonical_solution"], p["canonical_solution"]]}
             for p in problems]
    lines[0]["completions"][0] = "    return None\n"
    generations.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "out"
    proc = run("--tasks", "humaneval", "--data-dir", str(DATA_DIR), "--limit", "4", "--allow-code-execution",
               "--n-samples", "1", "--load-generations", str(generations), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["results"]["humaneval"]["pass@1"] == 0.75
    assert results["protocol"]["humaneval"]["n"] == 1
    execution = results["scorers"]["humaneval"]["code_execution"]
    isolation = execution["isolation"]
    assert len(isolation) == 1 and "namespaces" in isolation[0] and "verdict outside the candidate" in isolation[0]
    # 8 completions, 5 distinct programs (a repeated program is executed once)
    assert (execution["judged"], execution["failed"], results["scorers"]["humaneval"]["excluded_documents"]) == (5, 0, 0)
    assert "isolation: bubblewrap" in proc.stderr
    assert f"humaneval: {isolation[0]}" in (out / "report.md").read_text()
    samples = [json.loads(line) for line in (out / "samples" / "humaneval.jsonl").read_text().splitlines()]
    assert samples[0]["passed"] == [False, True] and samples[0]["reasons"][0].startswith("assertion")
    assert all(s["passed"] == [True, True] for s in samples[1:])


@needs_data
def test_generations_file_with_a_missing_problem_is_one_clear_error(tmp_path):
    problems = humaneval_problems(2)
    generations = tmp_path / "gen.jsonl"
    generations.write_text(json.dumps({"task_id": problems[0]["task_id"], "completions": ["", ""]}) + "\n")
    proc = run("--tasks", "humaneval", "--data-dir", str(DATA_DIR), "--limit", "2", "--allow-code-execution",
               "--load-generations", str(generations), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {generations}: no completions for task_id "
                                                f"'HumanEval/1' (humaneval)"]


def test_saved_generations_score_the_same_without_the_model(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    proc = run("--model", "tiny", "--tasks", "humaneval", "--examples", "--limit", "2", "--n-samples", "1",
               "--allow-code-execution", "--save-generations", "--output-dir", str(first))
    assert proc.returncode == 0, proc.stderr
    proc = run("--tasks", "humaneval", "--examples", "--limit", "2", "--allow-code-execution", "--n-samples", "1",
               "--load-generations", str(first / "generations" / "humaneval.jsonl"), "--output-dir", str(second))
    assert proc.returncode == 0, proc.stderr
    a, b = (json.loads((d / "samples" / "humaneval.jsonl").read_text().splitlines()[0]) for d in (first, second))
    assert a["completions"] == b["completions"] and a["passed"] == b["passed"]
    assert json.loads((second / "results.json").read_text())["model"]["format"] == "generations"


def test_without_containment_nothing_runs_unless_unsafe_execution_is_passed(tmp_path):
    problems = humaneval_problems(1)
    generations = tmp_path / "gen.jsonl"
    generations.write_text(json.dumps({"task_id": problems[0]["task_id"],
                                       "completions": [problems[0]["canonical_solution"]] * 2}) + "\n")
    args = ["--tasks", "humaneval", "--data-dir", str(DATA_DIR), "--limit", "1", "--allow-code-execution",
            "--n-samples", "1", "--load-generations", str(generations)]
    missing = {"EVALKIT_BWRAP": "/nonexistent/bwrap"}
    refused = run(*args, "--output-dir", str(tmp_path / "refused"), env=missing)
    assert refused.returncode == 2 and "--unsafe-execution" in refused.stderr
    assert refused.stderr.count("\n") == 1 and not (tmp_path / "refused").exists()
    unsafe = run(*args, "--unsafe-execution", "--output-dir", str(tmp_path / "unsafe"), env=missing)
    assert unsafe.returncode == 0, unsafe.stderr
    assert "isolation: UNSAFE: no containment" in unsafe.stderr
    results = json.loads((tmp_path / "unsafe" / "results.json").read_text())
    assert results["results"]["humaneval"]["pass@1"] == 1.0
    assert results["scorers"]["humaneval"]["code_execution"]["isolation"][0].startswith("UNSAFE")
    assert "UNSAFE: no containment" in (tmp_path / "unsafe" / "report.md").read_text()
