"""Kill -9 mid-run, restart with the same arguments: same results as an uninterrupted run, each row once."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import REPO, needs_shared

pytestmark = needs_shared  # reads ../shared

DRIVER = REPO / "tests" / "scripts" / "serve_requests.py"
DOCS = "120"


def run_driver(out, chunk_size: str = "8") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DRIVER), str(out), "--docs", DOCS, "--chunk-size", chunk_size],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, out) -> dict:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return json.loads((out / "results.json").read_text())


def rows(out) -> list[tuple]:
    """(request, sample) of every row; a read-only connection, so polling never blocks the writer."""
    path = out / "cache.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT request, sample FROM responses").fetchall()
    except sqlite3.OperationalError:  # the table is not created yet
        return []
    finally:
        db.close()


def test_kill9_and_resume_gives_the_uninterrupted_results(tmp_path):
    reference = finish(run_driver(tmp_path / "whole", chunk_size="64"), tmp_path / "whole")
    expected_rows = len(rows(tmp_path / "whole"))

    out = tmp_path / "killed"
    process = run_driver(out)
    deadline = time.monotonic() + 120
    while len(rows(out)) < 40 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not (out / "results.json").exists(), "finished before the kill"
    partial = len(rows(out))
    assert 0 < partial < expected_rows

    resumed = finish(run_driver(out), out)
    assert resumed["results"] == reference["results"]
    assert 0 < resumed["computed"] < reference["computed"]
    stored = rows(out)
    assert len(stored) == len(set(stored)) == expected_rows
