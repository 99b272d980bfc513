"""benchmarks/gpu_check.py runs end to end on the CPU in its tiny mode (everything but the CUDA-only
lines), so the script a GPU machine will run has been run: its memory need first, then one markdown table
with every check, printed row by row; a row that fails says so and the others still print."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import DATA_DIR, REPO, STORIES_BIN


def gpu_check(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--tiny", "--repeats", "1",
                           *flags], cwd=REPO, capture_output=True, text=True, timeout=900)


def table_of(stdout: str) -> tuple[list[str], list[str]]:
    table = [line for line in stdout.splitlines() if line.startswith("|")]
    assert all(line.count("|") == 6 for line in table), table  # 5 columns on every row
    return table, [line.split("|")[1].strip() for line in table[2:]]


def test_gpu_check_tiny_on_cpu():
    shared = DATA_DIR.is_dir() and STORIES_BIN.is_file()
    docs = "8" if shared else "0"
    done = gpu_check("--slice-docs", docs, "--gsm8k-docs", "1" if shared else "0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[1].startswith("needs about ")  # the memory need comes first
    table, checks = table_of(done.stdout)
    for batch in (1, 8, 64):
        assert f"prefill tokens/s, batch {batch} x 16" in checks and f"decode tokens/s, batch {batch}, 16 new" in checks
    assert any(c.startswith("peak memory") for c in checks)
    assert "decode step ms, batch 64: eager / CUDA graph" in checks  # eager here; the capture is CUDA's
    kernels = {c: line for c, line in zip(checks, table[2:]) if c.startswith("SDPA kernel, ours")}
    assert len(kernels) == 5
    for path in ("prefill (no padding)", "decoding step, no padding", "decoding step, padded rows",
                 "packed scoring rows"):
        line = kernels[f"SDPA kernel, ours: {path}"]
        assert "flash" in line.split("|")[2] and "plan: flash" in line  # the CPU's SDPA op, as the plan says
    assert "none recorded" in kernels["SDPA kernel, ours: sampling (cascade: matrix products)"]
    drift = float(next(line for line in table if "logits agreement" in line).split("|")[2])
    assert drift < 0.1  # same weights in both models
    if shared:
        assert "Table 3 slice on the device, stories260K, 8 documents" in checks
        assert any(c.startswith("GSM8K maj1@16 end to end") for c in checks)
        assert not any("failed" in line or "out of memory" in line for line in table)


def test_a_failing_row_leaves_the_others_and_the_exit_status_says_so(tmp_path):
    """No benchmark data where the end-to-end rows read it: those rows fail, in their cells, the table
    still holds every other row, and the run exits 1 naming the failed rows."""
    done = gpu_check("--slice-docs", "8", "--gsm8k-docs", "1", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "row(s) failed" in done.stderr, done.stderr[-2000:]
    table, checks = table_of(done.stdout)
    failed = [c for c, line in zip(checks, table[2:]) if "| failed: " in line]
    assert failed == ["GSM8K greedy end to end, stories260K, 1 problems",
                      "GSM8K maj1@16 end to end, stories260K, 1 problems",
                      "Table 3 slice on the device, stories260K, 8 documents"]
    assert "prefill tokens/s, batch 64 x 16" in checks and any("logits agreement" in c for c in checks)
