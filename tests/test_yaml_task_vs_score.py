"""A user's YAML task, run end to end, scores each choice exactly as the `score` command does."""
import json
import subprocess
import sys

import pytest

from conftest import REPO, STORIES_BIN, needs_stories

pytestmark = needs_stories  # reads ../shared

ROWS = [{"goal": "The little girl wanted to play", "sol1": "in the park with her ball", "sol2": "a red car", "label": 0},
        {"goal": "Tom saw a big dog", "sol1": "and he was happy", "sol2": "sky blue green", "label": 0},
        {"goal": "Once upon a time there was a cat", "sol1": "named Lily", "sol2": "who liked to eat fish",
         "label": 1}]
TASK = """
task: stories_choice
dataset_path: json
dataset_kwargs: {data_files: {test: rows.jsonl}}
test_split: test
output_type: multiple_choice
doc_to_text: "{{goal}}"
doc_to_choice: "{{[sol1, sol2]}}"
doc_to_target: label
"""


def cli(*args):
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_yaml_task_loglikelihoods_equal_score_command(tmp_path):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "task.yaml").write_text(TASK.replace("rows.jsonl", str(tmp_path / "rows.jsonl")))  # from the working folder
    out = tmp_path / "out"
    cli("run", "--model", str(STORIES_BIN), "--tasks", str(tmp_path / "task.yaml"), "--no-progress",
        "--output-dir", str(out))
    samples = [json.loads(line) for line in (out / "samples" / "stories_choice.jsonl").read_text().splitlines()]

    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"context": row["goal"], "continuation": " " + choice}) + "\n"
                                for row in ROWS for choice in (row["sol1"], row["sol2"])))
    scored = [json.loads(line) for line in cli("score", "--model", str(STORIES_BIN), "--requests",
                                                 str(requests)).splitlines()]
    from_run = [ll for sample in samples for ll in sample["loglikelihoods"]]
    assert len(from_run) == len(scored) == 6
    assert from_run == pytest.approx([s["loglikelihood"] for s in scored], abs=1e-4)
    assert json.loads((out / "results.json").read_text())["results"]["stories_choice"]["n"] == 3
