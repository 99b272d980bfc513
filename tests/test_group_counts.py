"""Per-group document counts: results.<task>.n_<group> for every group a task reports (MMLU categories and
subjects, CrowS-Pairs bias types, WinoGender groups), and the report printing each group's own n (it
printed the task's n for every group: "Disability ±0.0 (n = 20)" for a group holding 1 pair)."""
from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

import pytest

from conftest import REPO, STORIES_BIN, needs_shared
from evalkit.report.results import documents_behind, results_frame

LIMIT = 20
MMLU_LIMIT = 2  # per subject: 114 questions


def evaluate(out, data_dir, *flags: str):
    done = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", str(STORIES_BIN),
                           "--data-dir", str(data_dir), "--no-progress", "--output-dir", str(out), *flags],
                          capture_output=True, text=True, cwd=REPO, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    return evaluate(tmp_path_factory.mktemp("groups"), data_dir, "--suite", "table12,table13", "--limit", str(LIMIT))


@pytest.fixture(scope="module")
def mmlu_run(tmp_path_factory, data_dir):
    return evaluate(tmp_path_factory.mktemp("mmlu"), data_dir, "--tasks", "mmlu", "--limit", str(MMLU_LIMIT))


def samples(out, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


@needs_shared
@pytest.mark.parametrize("task, group_of", [
    ("crows_pairs", lambda s: [s["bias_type"].replace("-", "_")]),
    ("winogender", lambda s: s["groups"]),
    ("mmlu", lambda s: s["groups"]),
])
def test_each_group_counts_its_own_documents(request, task, group_of):
    run = request.getfixturevalue("mmlu_run" if task == "mmlu" else "run")
    metrics = json.loads((run / "results.json").read_text())["results"][task]
    found = collections.Counter(g for s in samples(run, task) for g in group_of(s))
    assert {k[2:]: v for k, v in metrics.items() if k.startswith("n_") and k != "n_total"} == found
    assert len(found) > 1 and min(found.values()) < metrics["n"]
    for key in metrics:  # every group metric the task reports has its group's count
        group = next((g for g in sorted(found, key=len, reverse=True) if key.endswith("_" + g)), None)
        if group and not key.endswith("_stderr"):
            assert documents_behind(metrics, key) == found[group]


@needs_shared
def test_mmlu_categories_and_subjects(mmlu_run):
    metrics = json.loads((mmlu_run / "results.json").read_text())["results"]["mmlu"]
    categories = [metrics[f"n_{c}"] for c in ("stem", "humanities", "social_sciences", "other")]
    assert sum(categories) == metrics["n"] and len(set(categories)) > 1
    assert metrics["n_abstract_algebra"] == MMLU_LIMIT
    report = (mmlu_run / "report.md").read_text()
    assert f"STEM ±" in report and re.search(rf"STEM ±[\d.]+ \(n = {metrics['n_stem']}\)", report)


@needs_shared
def test_the_report_prints_each_groups_n(run):
    report = (run / "report.md").read_text()
    crows = json.loads((run / "results.json").read_text())["results"]["crows_pairs"]
    line = next(line for line in report.splitlines() if "Disability ±" in line)
    assert f"Disability ±0.0 (n = {crows['n_disability']})" in line and crows["n_disability"] < LIMIT
    assert f"Average ±" in line and re.search(rf"Average ±[\d.]+ \(n = {LIMIT}\)", line)
    wino = next(line for line in report.splitlines() if "her/her/she (gotcha) ±" in line)
    counts = json.loads((run / "results.json").read_text())["results"]["winogender"]
    assert f"(gotcha) ±" in wino and f"(n = {counts['n_female_gotcha']})" in wino
    assert f"his/him/he ±" in wino and re.search(rf"his/him/he ±[\d.]+ \(n = {counts['n_male']}\)", wino)


def test_a_groups_metric_reads_the_longest_group_that_ends_it():
    metrics = {"acc": 0.5, "acc_male": 0.4, "acc_male_gotcha": 0.3, "acc_ppl_male": 0.2, "n": 20, "n_total": 720,
               "n_male": 7, "n_male_gotcha": 3}
    assert [documents_behind(metrics, m) for m in ("acc", "acc_male", "acc_male_gotcha", "acc_ppl_male")] == \
        [20, 7, 3, 7]
    frame = results_frame([{"model": {"name": "m"}, "results": {"winogender": metrics}}])
    assert "n_total" not in set(frame["metric"]) and "n_male" not in set(frame["metric"])
    assert dict(zip(frame["metric"], frame["n"]))["acc_male_gotcha"] == 3
