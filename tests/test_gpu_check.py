"""benchmarks/gpu_check.py runs end to end on the CPU in its tiny mode (everything but the CUDA-only
lines), so the script a GPU machine will run has been run: one markdown table with every check."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import DATA_DIR, REPO, STORIES_BIN


def test_gpu_check_tiny_on_cpu():
    shared = DATA_DIR.is_dir() and STORIES_BIN.is_file()
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--tiny", "--repeats", "1",
                           "--slice-docs", "8" if shared else "0"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert all(line.count("|") == 6 for line in table), table  # 5 columns on every row
    checks = [line.split("|")[1].strip() for line in table[2:]]
    for batch in (1, 8, 64):
        assert f"prefill tokens/s, batch {batch} x 16" in checks and f"decode tokens/s, batch {batch}, 16 new" in checks
    assert any(c.startswith("peak memory") for c in checks) and "SDPA kernel" in checks
    assert "decode step ms, batch 64: eager / CUDA graph" in checks  # eager here; the capture is CUDA's
    sdpa = next(line for line in table if "SDPA kernel" in line)
    assert "flash" in sdpa or "math" in sdpa  # the CPU's SDPA ops, as the profiler recorded them
    drift = float(next(line for line in table if "logits agreement" in line).split("|")[2])
    assert drift < 0.1  # same weights in both models
    if shared:
        assert any(c.startswith("Table 3 slice on the device, stories260K, 8 documents of 8 tasks") for c in checks)
