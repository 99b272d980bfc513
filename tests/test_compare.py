"""`compare` on two committed result folders (stories260K and the same weights interpolated halfway
toward a random init): deltas, paired intervals, flipped documents, protocol-mismatch warnings,
JSON, and the exit status of --fail-on-regression."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import STORIES_BIN, needs_shared
from evalkit.report.compare import compare_runs, paired_bootstrap_interval

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "reports"
A, B = FIXTURES / "stories260K", FIXTURES / "stories260K-mix0.50"


def run_compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", "compare", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def per_doc(folder: Path, task: str, metric: str) -> dict:
    lines = (folder / "samples" / f"{task}.jsonl").read_text().splitlines()
    return {r["doc_id"]: r["metrics"][metric] for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def comparison():
    return compare_runs(A, B)


def test_deltas_are_b_minus_a_as_each_run_reports(comparison):
    results_a = json.loads((A / "results.json").read_text())["results"]
    results_b = json.loads((B / "results.json").read_text())["results"]
    assert {(d.task, d.metric) for d in comparison.deltas} >= {("piqa", "acc_char"), ("hellaswag", "acc"),
                                                               ("mmlu", "acc")}
    for d in comparison.deltas:
        assert d.a == results_a[d.task][d.metric] and d.b == results_b[d.task][d.metric]
        assert d.delta == pytest.approx(d.b - d.a)


def test_intervals_are_over_the_shared_documents(comparison):
    d = next(d for d in comparison.deltas if (d.task, d.metric) == ("piqa", "acc_char"))
    a, b = per_doc(A, "piqa", "acc_char"), per_doc(B, "piqa", "acc_char")
    shared = sorted(set(a) & set(b))
    assert d.shared == len(shared) == 15  # B ran the first 15 documents, A the first 20
    diffs = np.array([b[i] - a[i] for i in shared])
    assert d.shared_delta == pytest.approx(diffs.mean())
    assert d.ci_low <= d.shared_delta <= d.ci_high
    assert d.ci_high - d.ci_low > 0
    # category means are not per-document metrics: no interval rather than a made-up one
    stem = next(d for d in comparison.deltas if d.metric == "acc_stem")
    assert (stem.ci_low, stem.ci_high, stem.shared) == (None, None, 0)


def test_flipped_documents_are_those_whose_headline_changed(comparison):
    a, b = per_doc(A, "piqa", "acc_char"), per_doc(B, "piqa", "acc_char")
    expected = sorted(i for i in set(a) & set(b) if a[i] != b[i])
    counts = comparison.flip_counts["piqa"]
    assert counts["better"] + counts["worse"] == len(expected) > 0
    assert counts["better"] == sum(b[i] > a[i] for i in expected)
    flips = comparison.flips["piqa"]
    assert [f.doc_id for f in flips] == expected[:10]
    first = flips[0]
    sample_a = json.loads((A / "samples" / "piqa.jsonl").read_text().splitlines()[first.doc_id])
    sample_b = json.loads((B / "samples" / "piqa.jsonl").read_text().splitlines()[first.doc_id])
    assert first.prompt == sample_a["prompt"] and first.b_prompt is None
    assert first.a_answer == f"{sample_a['prediction']}: {sample_a['choices'][sample_a['prediction']]}"
    assert first.b_answer == f"{sample_b['prediction']}: {sample_b['choices'][sample_b['prediction']]}"


def test_protocol_mismatch_is_warned(comparison):
    assert "piqa: limit differs (A: 20, B: 15)" in comparison.warnings
    assert any(w.startswith("only in A: boolq") for w in comparison.warnings)


def test_a_changed_prompt_and_shots_are_warned(tmp_path):
    changed = shutil.copytree(B, tmp_path / "b")
    results = json.loads((changed / "results.json").read_text())
    results["protocol"]["piqa"]["prompt_hash"] = "f" * 64
    results["protocol"]["mmlu"]["num_fewshot"] = 3
    (changed / "results.json").write_text(json.dumps(results))
    warnings = compare_runs(A, changed).warnings
    assert "piqa: prompt_hash differs (A: cde01b3f06c5, B: ffffffffffff)" in warnings
    assert "mmlu: num_fewshot differs (A: 5, B: 3)" in warnings


def test_a_run_against_itself(tmp_path):
    same = compare_runs(A, A)
    assert same.warnings == [] and all(sum(c.values()) == 0 for c in same.flip_counts.values())
    assert all(d.delta == 0 and (d.ci_low is None or d.ci_low == d.ci_high == 0) for d in same.deltas)


def test_paired_bootstrap_interval_of_a_known_shift():
    a = np.zeros(400)
    b = np.r_[np.ones(100), np.zeros(300)]  # B gains 25 points
    low, high = paired_bootstrap_interval(a, b, resamples=2000, seed=0)
    assert low < 0.25 < high and 0.17 < low and high < 0.33  # about 0.25 ± 2 * 0.0217


def test_markdown_and_json_from_the_command():
    done = run_compare(str(A), str(B), "--max-flipped", "1")
    assert done.returncode == 0, done.stderr
    title, _, defined = done.stdout.splitlines()[:3]  # the title said "B vs A", the line under it A then B
    assert title == "# A: stories260K (first 20 docs) vs B: stories260K-mix0.50 (first 15 docs)"
    assert defined.startswith("A: stories260K (first 20 docs) (")
    assert "n_total" not in done.stdout  # a document count is not a metric (it printed 1004200.0)
    assert "**Protocol mismatch**" in done.stdout and "warning: piqa: limit differs" in done.stderr
    assert "| piqa      | acc_char" in done.stdout
    assert "## piqa:" in done.stdout and "- A: " in done.stdout and "- B: " in done.stdout
    done = run_compare(str(A), str(B), "--json")
    data = json.loads(done.stdout)
    assert {"task", "metric", "a", "b", "delta", "shared_delta", "ci_low", "ci_high", "shared"} <= set(data["deltas"][0])
    assert len(data["flips"]["piqa"]) == sum(data["flip_counts"]["piqa"].values())


def test_fail_on_regression_exit_status():
    # piqa acc_char falls by 26.7 points on the 15 documents both runs scored (50.0 -> 33.3 over each
    # run's own documents); hellaswag acc_char rises
    assert run_compare(str(A), str(B), "--fail-on-regression", "acc_char:0.05").returncode == 1
    done = run_compare(str(A), str(B), "--fail-on-regression", "acc_char:0.2")
    assert done.returncode == 1 and "regression: piqa acc_char -0.2667 on the 15 documents both runs" in done.stderr
    assert run_compare(str(A), str(B), "--fail-on-regression", "acc_char:0.3").returncode == 0
    assert run_compare(str(B), str(A), "--fail-on-regression", "acc:0.2").returncode == 0
    bad = run_compare(str(A), str(B), "--fail-on-regression", "acc_char")
    assert bad.returncode == 2 and "expected METRIC:DELTA" in bad.stderr
    unknown = run_compare(str(A), str(B), "--fail-on-regression", "pass@1:0.01")
    assert unknown.returncode == 2 and "no task of both runs reports 'pass@1'" in unknown.stderr


@pytest.fixture(scope="module")
def limited_runs(tmp_path_factory, data_dir):
    """The same model at --limit 1 and --limit 2: PIQA's first 1 and 2 documents, MMLU's first 1 and 2 of each
    subject (the second run's doc_id 1 is abstract algebra's second question, the first's is anatomy's)."""
    runs = []
    for limit in (1, 2):
        out = tmp_path_factory.mktemp(f"limit{limit}")
        done = subprocess.run([sys.executable, "run_eval.py", "run", "--model", str(STORIES_BIN), "--tasks",
                               "piqa,mmlu", "--data-dir", str(data_dir), "--limit", str(limit), "--no-progress",
                               "--output-dir", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(out)
    return runs


@needs_shared
def test_the_verdict_judges_the_shared_documents(limited_runs):
    """Each run's own mean moves with its documents; on the documents both scored, the same model gives
    the same answers: no regression, and the document sets are said to differ."""
    short, long = limited_runs
    comparison = compare_runs(short, long)
    for d in comparison.deltas:
        if d.shared_delta is not None:
            assert d.shared_delta == 0 and (d.ci_low == d.ci_high == 0 or (d.ci_low is None and d.shared == 1)), d
    mmlu = comparison.documents["mmlu"]
    assert (mmlu.a, mmlu.b, mmlu.shared, mmlu.paired_on) == (57, 114, 57, "doc_hash")
    assert sum(comparison.flip_counts["mmlu"].values()) == 0  # paired by doc_id, 40 of 57 "flipped"
    assert any(w.startswith("mmlu: document sets differ (A: 57, B: 114, both: 57") for w in comparison.warnings)
    done = run_compare(str(short), str(long), "--fail-on-regression", "acc:0.01", "--fail-on-regression",
                       "acc_char:0.01")
    assert done.returncode == 0, done.stderr
    assert "warning: piqa: document sets differ" in done.stderr
    # a category mean is not per document: it cannot be judged over different document sets
    stem = run_compare(str(short), str(long), "--fail-on-regression", "acc_stem:0.01")
    assert stem.returncode == 1 and "cannot judge: mmlu acc_stem" in stem.stderr
    assert run_compare(str(short), str(short), "--fail-on-regression", "acc_stem:0.0").returncode == 0
