"""`tasks` and `run --tasks list`: every task and suite with its paper table, split, shots and headline."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO
from tasks import SUBJECT_TASKS, TASK_NAMES, get_task, suites


def listed(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_task_and_suite_is_listed_with_its_protocol():
    text = listed("tasks")
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    for name in [*TASK_NAMES, *SUBJECT_TASKS]:
        protocol = get_task(name).protocol
        assert rows[name] == [name, *protocol.paper_table.split(), protocol.split, str(protocol.num_fewshot),
                              protocol.headline_metric]
    for suite, names in suites().items():
        assert rows[suite] == [suite, *names]
    assert rows["mmlu"][3:] == ["test", "5", "acc"]


def test_run_tasks_list_is_the_same_listing():
    assert listed("run", "--tasks", "list") == listed("tasks")
