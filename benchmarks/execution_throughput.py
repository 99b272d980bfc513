"""Programs executed per second: the box's pool vs a plain one-process-per-sample loop without limits.

Both run HumanEval's 164 canonical solutions. The box runs each as two contained processes (bwrap:
the candidate, and the tests calling it through a pipe), `--workers` pairs at a time, after measuring
each problem's reference (here the same code, so that run is the result). The plain loop is
`python -c prompt+solution+tests` one after another with no containment and no limits at all, the
floor a harness could reach without a box or a pool.
Usage: python benchmarks/execution_throughput.py [--data-dir ../shared/data] [--workers N]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's evalkit and tasks/ (installed, tasks/ lives under evalkit)

from evalkit.execution import run_programs  # noqa: E402
from evalkit.task import DataSource  # noqa: E402
from tasks.humaneval import HumanEval  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: one per core)")
    args = parser.parse_args()
    task = HumanEval()
    docs = task.docs(DataSource(data_dir=Path(args.data_dir)))
    programs = [task.program(d, d["canonical_solution"]) for d in docs]

    start = time.perf_counter()
    boxed = run_programs(programs, workers=args.workers, progress=False)
    box_rate = len(programs) / (time.perf_counter() - start)

    start = time.perf_counter()
    plain = [subprocess.run([sys.executable, "-c", p.code + "\n" + p.test], capture_output=True).returncode == 0
             for p in programs]
    plain_rate = len(programs) / (time.perf_counter() - start)

    print(f"programs: {len(programs)}; cores: {os.cpu_count()}; isolation: {boxed[0].isolation}")
    print(f"box pool ({args.workers or os.cpu_count()} workers): {box_rate:.1f} programs/s, "
          f"{sum(r.passed for r in boxed)} passed")
    print(f"plain loop, no limits:  {plain_rate:.1f} programs/s, {sum(plain)} passed")
    print(f"ratio box/plain: {box_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
