"""`run_eval.py report OUT [OUT...]` end to end, in a subprocess, without a model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from report_fixtures import full_result, partial_result

REPO = Path(__file__).resolve().parents[1]


def run_report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", "report", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def write_out(folder: Path, result: dict) -> Path:
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(result))
    return folder


def test_report_writes_markdown_and_latex_into_the_result_folder(tmp_path):
    out = write_out(tmp_path / "run", full_result())
    done = run_report(str(out))
    assert done.returncode == 0, done.stderr
    markdown = (out / "report.md").read_text()
    table6 = markdown.split("## Table 6")[1].split("## Table 8")[0]
    assert "| tiny-7M | 7M       |          34.1 |        29.6 |" in table6
    assert r"\begin{tabular}" in (out / "report.tex").read_text()
    assert done.stdout.split() == [str(out / name) for name in ("report.md", "report.tex", "report.html")]


def test_two_folders_give_two_rows(tmp_path):
    first = write_out(tmp_path / "a", full_result())
    second = write_out(tmp_path / "b", partial_result())
    done = run_report(str(first), str(second), "--output", str(tmp_path / "both"))
    assert done.returncode == 0, done.stderr
    markdown = (tmp_path / "both" / "report.md").read_text()
    assert markdown.count("| tiny-7M ") == 5 and markdown.count("| tiny-15M ") == 4  # Tables 3, 6, (8), 9, 10


def test_a_malformed_results_file_exits_2_naming_it(tmp_path):
    out = tmp_path / "bad"
    out.mkdir()
    (out / "results.json").write_text('{"results": {"boolq": ')
    done = run_report(str(out))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {out / 'results.json'}: not valid JSON")
    assert not (out / "report.md").exists()


def test_a_missing_results_file_exits_2_naming_it(tmp_path):
    done = run_report(str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path / 'results.json'}: no such file" in done.stderr


def test_results_of_the_wrong_shape_exit_2(tmp_path):
    out = write_out(tmp_path / "run", {"results": {"boolq": 0.5}, "model": {"name": "x"}})
    done = run_report(str(out))
    assert done.returncode == 2
    assert "field 'results' must map each task to its metrics" in done.stderr
