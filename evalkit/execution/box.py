"""Running untrusted programs, each in its own limited child process, and saying how each ended.

Every program gets a fresh working directory (removed afterwards), an empty environment, its own
process group (killed whole on time-out) and resource limits (CPU, address space, output size, open
files, processes). When we are root the child also runs under an unprivileged uid of its own, so
it can neither touch our files nor signal our processes, and a limit of one process per uid means
it cannot fork at all. Where the kernel allows, `unshare` puts it in fresh user and network
namespaces (no network devices but a loopback that is down). Inside, `_child.py` arms an audit
hook (see there). A pass is recorded only when the child reports the secret token, which it
does only after the test code has run to its end.

The pool follows openai/human-eval's execution.py in spirit (a thread per concurrent program, each
waiting on a subprocess) but never executes anything in our own process.
"""
from __future__ import annotations

import functools
import marshal
import os
import queue
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHILD_SOURCE = (Path(__file__).parent / "_child.py").read_text()
FALLBACK_INTERPRETERS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")
UID_BASE = 1_000_000  # sandbox uids: UID_BASE + 64 * our pid + worker slot, unused by any account


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0              # wall time per program; the CPU limit is the same, rounded up
    memory_bytes: int = 2 * 1024 ** 3   # address space: enough for any reference solution
    output_bytes: int = 1024 ** 2       # stdout + stderr + files written
    open_files: int = 64
    processes: int = 1                  # per sandbox uid: the program itself, so no fork succeeds


@dataclass(frozen=True)
class Program:
    code: str  # untrusted: the prompt and the model's completion
    test: str  # trusted: the benchmark's tests, run after `code` in the same namespace


@dataclass(frozen=True)
class ExecResult:
    passed: bool
    reason: str        # passed, assertion, exception, syntax, exit, timeout, memory, killed, output-limit
    detail: str        # exception type, signal name or exit status
    seconds: float
    isolation: str     # e.g. "uid+netns+audit+rlimits": which barriers were in force for this program
    output: str = ""   # the last 1,000 characters of stdout and stderr


def run_programs(programs: list[Program], limits: Limits = Limits(), workers: int | None = None,
                 progress: bool = True, desc: str = "executing") -> list[ExecResult]:
    """Run every program in the box, `workers` at a time (default: one per core); results in input order."""
    workers = max(1, min(workers or os.cpu_count() or 1, 64))
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def one(program: Program) -> ExecResult:
        slot = slots.get()
        try:
            return run_program(program, limits, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(programs), desc=desc, disable=not progress) as bar:
        futures = [pool.submit(one, program) for program in programs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        return [future.result() for future in futures]


def run_program(program: Program, limits: Limits = Limits(), slot: int = 0) -> ExecResult:
    """Run one program in the box; `slot` picks the sandbox uid, so concurrent calls need distinct slots."""
    uid = UID_BASE + 64 * os.getpid() + slot if os.geteuid() == 0 else None
    interpreter = _interpreter(uid)
    if interpreter is None:  # no Python the sandbox uid may execute: keep our uid, say so
        uid, interpreter = None, sys.executable
    box = Path(tempfile.mkdtemp(prefix="evalkit-box-"))
    try:
        return _run_in(box, program, limits, uid, interpreter)
    finally:
        shutil.rmtree(box, onerror=_force_remove)


def _run_in(box: Path, program: Program, limits: Limits, uid: int | None, interpreter: str) -> ExecResult:
    work = box / "work"
    work.mkdir()
    if uid is not None:
        os.chmod(box, 0o711)
        os.chown(work, uid, uid)
    token = secrets.token_hex(16)
    job = {"token": token, "code": program.code, "test": program.test,
           "limits": {"cpu_s": max(1, round(limits.timeout_s + 0.5)), "memory_bytes": limits.memory_bytes,
                      "output_bytes": limits.output_bytes, "open_files": limits.open_files,
                      "processes": limits.processes}}
    report_r, report_w = os.pipe()
    os.set_blocking(report_r, False)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}
    owner = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    start = time.perf_counter()
    with open(box / "output", "wb+") as output:
        try:
            netns = _unshare_works(uid)
            prefix = ["unshare", "--user", "--net", "--"] if netns else []
            proc = subprocess.Popen([*prefix, interpreter, "-I", "-S", "-c", CHILD_SOURCE, str(report_w)],
                                    stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, cwd=work,
                                    env=env, pass_fds=(report_w,), process_group=0, **owner)
        finally:
            os.close(report_w)
        try:
            proc.stdin.write(marshal.dumps(job))
            proc.stdin.close()
        except BrokenPipeError:  # the child died before reading its job; its status says why
            pass
        timed_out = not _exited_within(proc, limits.timeout_s)
        _kill_group(proc)
        seconds = time.perf_counter() - start
        size = output.seek(0, os.SEEK_END)
        output.seek(max(0, size - 1000))
        tail = output.read().decode("utf-8", "replace")
    report = _read_report(report_r)
    isolation = "+".join(part for part in ("uid" if uid is not None else "", "netns" if netns else "",
                                           "audit", "rlimits") if part)
    passed, reason, detail = _verdict(proc.returncode, timed_out, report, token, size >= limits.output_bytes)
    return ExecResult(passed, reason, detail, round(seconds, 4), isolation, tail)


def _verdict(returncode: int, timed_out: bool, report: list[str], token: str, output_full: bool) -> tuple[bool, str, str]:
    if output_full:
        return False, "output-limit", ""
    if timed_out:
        return False, "timeout", f"over {returncode}"
    if returncode == 0 and len(report) == 2 and report[0] == "passed" and secrets.compare_digest(report[1], token):
        return True, "passed", ""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        reason = {"SIGXCPU": "timeout", "SIGXFSZ": "output-limit"}.get(name, "killed")
        return False, reason, name
    if len(report) == 3 and report[0] == "failed":
        return False, report[1], report[2]
    return False, "exit", f"status {returncode}"


def _read_report(fd: int) -> list[str]:
    """The child's verdict line, split in words. The program can write to this pipe too; anything
    but exactly one line reads as no verdict, so extra writes can only turn a pass into a failure."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:  # something in the box still holds the write end; what is there is enough
        pass
    finally:
        os.close(fd)
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    return lines[0].split() if len(lines) == 1 else []


@functools.lru_cache(maxsize=None)
def _unshare_works(uid: int | None) -> bool:
    """Whether `unshare --user --net` succeeds for the sandbox uid here (kernels and containers differ)."""
    owner = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    try:
        return subprocess.run(["unshare", "--user", "--net", "--", "true"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", env={},
                              timeout=10, **owner).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _exited_within(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait for the child; a pidfd wakes us the moment it exits (Popen.wait polls with sleeps)."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        return bool(select.select([pidfd], [], [], timeout_s)[0])
    finally:
        os.close(pidfd)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's whole process group (whatever it left behind) and reap the child."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()
    proc.wait()


def _interpreter(uid: int | None) -> str | None:
    """A Python the sandbox uid can execute: ours if its path is open to others, else a system one."""
    if uid is None:
        return sys.executable
    for candidate in (sys.executable, *FALLBACK_INTERPRETERS):
        if _others_can_execute(Path(candidate)):
            return candidate
    return None


def _others_can_execute(path: Path) -> bool:
    try:
        real = path.resolve(strict=True)
        dirs_ok = all(os.stat(parent).st_mode & stat.S_IXOTH for parent in real.parents)
        return dirs_ok and real.stat().st_mode & stat.S_IXOTH != 0
    except OSError:
        return False


def _force_remove(function, path, _excinfo) -> None:
    """rmtree's error handler: a program may have left read-only directories behind."""
    os.chmod(os.path.dirname(path), 0o700)
    function(path)
