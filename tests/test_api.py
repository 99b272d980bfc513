"""The Python API (`evalkit.evaluate`) is what `run` does; the command line needs --model, prints each task
as it finishes, and every flag's help says its default."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import evalkit
from conftest import REPO
from evalkit.cli import build_parser
from evalkit.errors import UsageError


def cli(*args):
    return subprocess.run([sys.executable, str(REPO / "run_eval.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_evaluate_returns_the_document_the_cli_writes(tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    finished = []
    document = evalkit.evaluate(model="tiny", tasks=["boolq", "mmlu"], examples=True, limit=2, batch_size=4,
                                no_progress=True, on_task=lambda run: finished.append(run.task.name))
    assert finished == ["boolq", "mmlu"] and set(document["results"]) == {"boolq", "mmlu"}
    assert document["run"]["limit"] == 2 and document["run"]["batch_size"] == 4
    assert document["model"]["name"] == "tiny"
    assert not list(here.iterdir())  # no output_dir: no files, no cache
    out = tmp_path / "out"
    proc = cli("run", "--model", "tiny", "--tasks", "boolq,mmlu", "--examples", "--limit", "2", "--batch-size", "4",
               "--no-progress", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    written = json.loads((out / "results.json").read_text())
    assert written["results"] == document["results"] and written["protocol"] == document["protocol"]
    # one line per task, printed as it finishes, the headline metric marked
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("boolq: n=2 ") and "*acc_answer=" in lines[0]
    assert lines[1].startswith("mmlu: n=") and "*acc=" in lines[1] and lines[2].startswith("wrote ")


def test_evaluate_options_are_the_run_flags():
    with pytest.raises(TypeError, match="unknown option.*batchsize"):
        evalkit.evaluate(model="tiny", tasks=["boolq"], batchsize=4)
    with pytest.raises(UsageError, match="--model is required"):
        evalkit.evaluate(tasks="boolq", examples=True)


def test_run_needs_a_model_unless_answers_come_from_a_file(tmp_path):
    proc = cli("run", "--tasks", "boolq", "--examples", "--output-dir", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "--model is required" in proc.stderr and not (tmp_path / "results.json").exists()


def test_python_m_evalkit_is_the_cli():
    proc = subprocess.run([sys.executable, "-m", "evalkit", "tasks"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0 and "mmlu_abstract_algebra" in proc.stdout


def test_every_flag_has_help_with_its_default():
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in subparsers.choices.items():
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings[0]} has no help"
            if action.default not in (None, False):
                assert f"(default: {action.default})" in " ".join(text.split()), \
                    f"{name} {action.option_strings[0]}: default {action.default} not shown"
