"""CI regression on tiny models: `run --suite ci` on a small slice of every task, against golden results.

Each model's metrics and per-document log-likelihoods (or predictions) are committed under
tests/golden/ci/; any drift fails. To refresh them on purpose (after a deliberate change):
    EVALKIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_ci_regression.py
then review `git diff tests/golden/ci`.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, STORIES_BIN, needs_shared

pytestmark = needs_shared  # reads ../shared

GOLDEN_DIR = Path(__file__).parent / "golden" / "ci"
UPDATE = os.environ.get("EVALKIT_UPDATE_GOLDEN") == "1"
LIMIT = 6
MODELS = {"stories260K": str(STORIES_BIN), "tiny": "tiny"}


def summarize(out: Path) -> dict:
    """What the golden file pins: each task's metrics and, per document, its log-likelihoods or prediction."""
    results = json.loads((out / "results.json").read_text())["results"]
    summary = {}
    for task, metrics in sorted(results.items()):
        samples = [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]
        per_doc = [s.get("loglikelihoods", s["prediction"]) for s in samples]
        summary[task] = {"metrics": {k: v for k, v in metrics.items() if not k.endswith("_stderr")},
                         "documents": per_doc}
    return summary


def assert_close(actual, expected, path="") -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), f"{path}: keys differ: {set(actual) ^ set(expected)}"
        for key in expected:
            assert_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-4), f"{path}: {actual} != {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("model", MODELS)
def test_ci_suite_matches_golden(model, data_dir, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", MODELS[model],
                           "--suite", "ci", "--data-dir", str(data_dir), "--limit", str(LIMIT),
                           "--allow-code-execution", "--n-samples", "1", "--toxicity-scorer", "local",
                           "--truth-judge", "llama:tiny", "--info-judge", "llama:tiny", "--no-progress", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    actual = summarize(tmp_path)
    path = GOLDEN_DIR / f"{model}.json"
    if UPDATE:
        path.write_text(json.dumps(actual, indent=1) + "\n")
    assert path.is_file(), f"no golden file {path}; set EVALKIT_UPDATE_GOLDEN=1 to write it"
    assert_close(actual, json.loads(path.read_text()))
