"""The wheel claims no top-level module name but `evalkit`: tasks/, prompts/ and reports/ install under
evalkit, run_eval.py is not installed, and evalkit works from a clean folder beside a user's own `tasks`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "out", "runs", "tests")


def test_installed_wheel_claims_only_evalkit(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=SKIP)  # a clean tree: no stale build/ to pack
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    site = tmp_path / "site"
    wheel = next((tmp_path / "dist").glob("evalkit-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    top = {p.name.removesuffix(".py") for p in site.iterdir() if not p.name.endswith((".dist-info", "bin"))}
    assert top == {"evalkit"}, top

    user = tmp_path / "user"
    (user / "tasks").mkdir(parents=True)
    (user / "tasks" / "__init__.py").write_text("MINE = True\n")  # the user's own `tasks` package
    env = {**os.environ, "PYTHONPATH": str(site)}
    check = ("import tasks, evalkit.layout as layout; assert tasks.MINE; "
             "print(layout.tasks_package().__name__, layout.data_dir('prompts'))")
    shown = subprocess.run([sys.executable, "-c", check], cwd=user, env=env, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    name, prompts = shown.stdout.split()
    assert name == "evalkit._tasks" and Path(prompts) == site / "evalkit" / "_prompts"

    run = subprocess.run([sys.executable, "-m", "evalkit", "run", "--model", "tiny", "--tasks", "boolq,mmlu",
                          "--examples", "--no-progress", "--output-dir", "out"], cwd=user, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(json.loads((user / "out" / "results.json").read_text())["results"]) == {"boolq", "mmlu"}
    assert "## Table 9" in (user / "out" / "report.md").read_text()
