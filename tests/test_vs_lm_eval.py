"""benchmarks/vs_lm_eval.py end to end on a tiny workload: lm-eval and evalkit score the same documents
of the same random model and agree exactly in fp32 (same predictions, log-likelihoods within 1e-3).

Runs only where lm-eval is installed (the optional `bench` extra; scripts/setup.sh does not install it,
so CI skips this test) and ../shared is present.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO, STORIES_DIR, needs_shared

pytestmark = needs_shared
pytest.importorskip("lm_eval")


def test_smoke_fp32_agrees_with_lm_eval(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "vs_lm_eval.py"), "--tasks", "piqa,hellaswag,mmlu",
                           "--mmlu-subjects", "1", "--limit", "3", "--dtype", "float32", "--preset", "tiny",
                           "--tokenizer", str(STORIES_DIR / "tok512.model"), "--threads", "1", "--work", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = re.findall(r"^\| float32 \| (\w+) \| (\d+) \| (\d+)/(\d+) \| ([\d.]+) \|", proc.stdout, re.M)
    assert [row[0] for row in rows] == ["piqa", "hellaswag", "mmlu_abstract_algebra"], proc.stdout
    for task, documents, same, total, shift in rows:
        assert int(documents) == int(same) == int(total) == 3, (task, proc.stdout)
        assert float(shift) < 1e-3, (task, shift)
    assert re.search(r"^\| float32 \| [\d.]+ \([\d.]+\) \| [\d.]+ \([\d.]+\) \| [\d.]+x \|", proc.stdout, re.M), \
        proc.stdout
    assert re.search(r"^\| float32 \| [\d.]+ \| [\d.]+ \| \d+% \|$", proc.stdout, re.M), proc.stdout  # efficiency
