"""A harness stopped mid-run (SIGTERM, SIGINT) leaves no boxed process and no file behind."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

HARNESS = """
from evalkit.execution import Limits, Program, run_programs
programs = [Program(f"import time\\ndef f(x):\\n    time.sleep(120)\\n# {i}\\n", "f(1)\\n", ("f",)) for i in range(8)]
run_programs(programs, Limits(timeout_s=120), workers=4, progress=False)
"""


def boxed(mark: str) -> list[str]:
    """Processes (bwrap and the boxed interpreters) whose command line carries `mark`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark.encode() in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            pass
    return found


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopped_harness_leaves_nothing(tmp_path, signum):
    harness = subprocess.Popen([sys.executable, "-c", HARNESS], cwd=REPO, stderr=subprocess.DEVNULL,
                               env=os.environ | {"TMPDIR": str(tmp_path)})
    mark = f"evalkit-box-{harness.pid}"
    try:
        assert wait_for(lambda: len(boxed(mark)) >= 8, 60), "the boxes did not start"  # 4 pairs, bwrap at least
        harness.send_signal(signum)
        harness.wait(timeout=30)
        assert wait_for(lambda: not boxed(mark), 10), subprocess.run(["ps", "-o", "pid,ppid,stat,etime,args", "-p", ",".join(boxed(mark))], capture_output=True, text=True).stdout[:3000]
        assert list(tmp_path.iterdir()) == []
    finally:
        harness.kill()
        harness.wait()
