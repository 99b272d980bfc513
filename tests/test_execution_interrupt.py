"""A harness stopped mid-run (SIGTERM, SIGINT) leaves no boxed process and no file behind, and stops
promptly whichever of its threads the kernel hands the signal to."""
import ctypes
import os
import platform
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

HARNESS = """
import faulthandler, signal
faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack when the harness hangs
from evalkit.execution import Limits, Program, run_programs
programs = [Program(f"import time\\ndef f(x):\\n    time.sleep(120)\\n# {i}\\n", "f(1)\\n", ("f",)) for i in range(8)]
run_programs(programs, Limits(timeout_s=120), workers=4, progress=False)
"""
TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())  # the system call's number


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


def to_process(pid: int, signum: int) -> None:
    os.kill(pid, signum)


def to_worker_thread(pid: int, signum: int) -> None:
    """What the kernel does now and then with a signal sent to the process: deliver it to another thread
    than the main one (here, one of the pool's)."""
    workers = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert workers, "the harness has no worker thread"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(TGKILL, pid, workers[-1], signum) == 0, os.strerror(ctypes.get_errno())


@pytest.mark.parametrize("deliver", [to_process, pytest.param(to_worker_thread, marks=pytest.mark.skipif(
    TGKILL is None, reason="tgkill's number on this architecture is not known here"))])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopped_harness_leaves_nothing(tmp_path, signum, deliver):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with open(tmp_path / "stderr", "w+") as stderr:
        harness = subprocess.Popen([sys.executable, "-c", HARNESS], cwd=REPO, stderr=stderr,
                                   env=os.environ | {"TMPDIR": str(scratch)})
        mark = f"evalkit-box-{harness.pid}"
        try:
            assert wait_for(lambda: len(boxed(mark)) >= 8, 60), "the boxes did not start"  # 4 pairs, bwrap at least
            deliver(harness.pid, signum)
            try:
                harness.wait(timeout=30)
            except subprocess.TimeoutExpired:
                harness.send_signal(signal.SIGUSR1)
                time.sleep(1)
                stderr.seek(0)
                pytest.fail(f"the harness did not stop within 30 s; its threads:\n{stderr.read()[-6000:]}")
            assert wait_for(lambda: not boxed(mark), 10), subprocess.run(["ps", "-o", "pid,ppid,stat,etime,args", "-p", ",".join(boxed(mark))], capture_output=True, text=True).stdout[:3000]
            assert list(scratch.iterdir()) == []
        finally:
            harness.kill()
            harness.wait()
