"""The README documents every key a YAML task accepts, and the example task it names exists and loads."""
from __future__ import annotations

import dataclasses

from conftest import REPO
from evalkit.task import DataSource
from evalkit.task_kinds.yaml_task import YamlConfig
from tasks import get_task

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_yaml_key_is_documented():
    section = README.split("### User tasks (YAML)")[1].split("\n## ")[0]
    for key in (f.name for f in dataclasses.fields(YamlConfig) if f.name not in ("path", "fewshot")):
        assert f"| `{key}` |" in section, f"README does not document the YAML key {key}"


def test_the_example_task_ships_with_its_data(monkeypatch):
    monkeypatch.chdir(REPO)  # its data_files are relative to the working folder the README runs it from
    assert "examples/capitals/capitals.yaml" in README
    task = get_task(str(REPO / "examples" / "capitals" / "capitals.yaml"))
    docs = task.docs(DataSource())
    assert task.name == "capitals" and len(docs) == 6 and task.protocol.num_fewshot == 1
    assert "\n\n" in task.requests(docs[0], 0, seed=1234)[0].context  # its shot, from the train file


def test_the_readme_example_command_runs(tmp_path):
    """The command the README prints for the example (1 shot from fewshot_split: train) runs and uses its shot."""
    import json
    import subprocess
    import sys

    line = next(l for l in README.splitlines() if "examples/capitals/capitals.yaml --output-dir" in l)
    args = line.split("run_eval.py", 1)[1].split()
    args[args.index("--output-dir") + 1] = str(tmp_path / "out")
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), *args, "--no-progress"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    samples = [json.loads(l) for l in (tmp_path / "out" / "samples" / "capitals.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(s["prompt"].count("Question:") == 2 for s in samples)
