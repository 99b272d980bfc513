"""Every task's documents are read and checked before the model loads: a suite whose last table lacks its
files is refused in one line, before any work and before any output folder (README, --suite table3,table6)."""
import subprocess
import sys

from conftest import DATA_DIR, REPO, needs_data


@needs_data
def test_a_suite_missing_races_files_is_refused_before_table3_runs(tmp_path):
    assert not (DATA_DIR / "race").exists()  # ../shared/data holds no RACE (data/MANIFEST.md)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--suite",
                           "table3,table6,table9", "--data-dir", str(DATA_DIR), "--limit", "1", "--no-progress",
                           "--output-dir", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert proc.stdout == ""  # no task ran (each prints a line as it finishes)
    assert proc.stderr.splitlines() == [f"error: {DATA_DIR}/race/test/middle: no article files (*.txt)"]
    assert not out.exists()
