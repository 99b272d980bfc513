"""Running untrusted programs in boxes the kernel keeps shut, with the verdict computed outside them.

Each program is two boxed processes (see sandbox.py for the box): the candidate's (`_candidate.py`:
the model's code, then it answers calls), fresh for every program, and the test's (`_tester.py`: the
benchmark's tests, which reach the candidate only through a pair of pipes carrying plain data), one
per worker, kept for program after program and handed each job with its pipe ends over a socket
only we hold the other end of. The verdict comes back on that socket alone; the candidate can neither
see the tests nor reach the test's memory, so always-equal objects, forged output or exit codes and
scavenged frames or memory cannot make a pass. Any exit status or signal is a failure of that
program, never of the run. The test's box bounds what it reads (an answer's bytes and an integer's
digits; parsing counts against the candidate's time) and has a CPU limit per program. Nothing is
written on the host: the candidate's stdout and stderr come back through a pipe read up to
Limits.output_bytes (a program that writes more is stopped there). No box outlives the run: at its
end, on SIGINT, and on SIGTERM (raised as SystemExit while we run) every live box is killed whole; on
any other death of the harness the kernel kills them (bwrap --die-with-parent).

Time limits follow evalplus: a program whose problem has a reference solution may wait for its
candidate max(Limits.timeout_s, Limits.factor x the reference's time), the reference being measured
in the same box, on this machine, in this run, just before the candidates (no cache: the measure is
of this machine as loaded now). Identical programs run once. The pool follows openai/human-eval's
execution.py in spirit: a thread per concurrent program.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from evalkit.execution.sandbox import PRELUDE, Sandbox, find_sandbox
from evalkit.futures import results_in_order

HERE = Path(__file__).parent
WIRE = (HERE / "_wire.py").read_text()
CANDIDATE = PRELUDE + WIRE + (HERE / "_candidate.py").read_text()
TESTER = PRELUDE + WIRE + (HERE / "_tester.py").read_text()
MARK = f"evalkit-box-{os.getpid()}"  # the last argument of every boxed process: leftovers can be found
GRACE_S = 10.0            # beyond the candidate's time: a box's start and the tests themselves
TEST_CPU_S = 5.0          # the test box's CPU per program beyond the candidate's time (the benchmarks' tests: ms)
STOP_WAIT_S = 5.0         # how long a kill waits for bwraps to stop before killing them regardless
VERDICT = "rlimits, verdict outside the candidate"


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0              # a program's time limit: the floor, or all of it without a reference
    factor: float = 4.0                 # times the reference's time (evalplus's gt_time_limit_factor)
    reference_timeout_s: float = 60.0   # what a reference itself may take while it is measured
    memory_bytes: int = 2 * 1024 ** 3   # address space, each process: enough for any reference solution
    output_bytes: int = 1024 ** 2       # the candidate's stdout + stderr, and each file it writes
    open_files: int = 64
    processes: int = 256                # RLIMIT_NPROC: threads, counted over all boxes (seccomp refuses forks)
    answer_bytes: int = 16 * 1024 ** 2  # one answer (a JSON line) the test's box reads from the candidate
    answer_digits: int = 10_000         # an integer in an answer (int() is quadratic: 10k digits, 0.5 ms)


@dataclass(frozen=True)
class Program:
    code: str                            # untrusted: the prompt and the completion, run in the candidate's box
    test: str                            # trusted: the benchmark's tests, run in the test's box
    entry_points: tuple[str, ...] = ()   # the candidate's names the test calls (through the pipe)
    setup: str = ""                      # trusted code run in the test's box first (helpers the test uses)
    reference: str | None = None         # the benchmark's solution (a `code`): its time scales the limit
    timeout_s: float | None = None       # a fixed time limit instead


@dataclass(frozen=True)
class ExecResult:
    passed: bool
    reason: str        # passed, assertion, exception, syntax, exit, killed, timeout, memory, output-limit, not-data
    detail: str        # exception type, signal name or exit status
    seconds: float     # the time the test waited for the candidate
    isolation: str     # the containment in force, as the sandbox describes it, and the verdict's design
    output: str = ""   # the last 1,000 characters of the candidate's stdout and stderr
    limit_s: float = 0.0  # the time limit this program had


def default_sandbox() -> Sandbox:
    """bwrap, or the bare interpreter when `allow_unsafe_execution()` was called; else ContainmentMissing."""
    return find_sandbox(allow_unsafe=_unsafe.is_set())


def allow_unsafe_execution() -> None:
    """The user passed --unsafe-execution: where bwrap cannot start a box, run programs without one."""
    _unsafe.set()


_unsafe = threading.Event()


def run_programs(programs: list[Program], limits: Limits = Limits(), workers: int | None = None,
                 progress: bool = True, desc: str = "executing", sandbox: Sandbox | None = None) -> list[ExecResult]:
    """Run every program, `workers` at a time (default: one per core); results in input order."""
    sandbox = sandbox or default_sandbox()
    print(f"{desc}: {len(programs)} programs; isolation: {sandbox.isolation}; {VERDICT}", file=sys.stderr)
    distinct = list(dict.fromkeys(programs))
    references = list(dict.fromkeys(r for r in map(_reference, distinct, [limits] * len(distinct)) if r))
    boxes = _Boxes(sandbox, limits, max(1, min(workers or os.cpu_count() or 1, 64)))
    with _sigterm_as_interrupt(), tqdm(total=len(references) + len(distinct), desc=desc, disable=not progress) as bar:
        measured = dict(zip(references, boxes.run(references, bar)))
        limit = {p: _limit(p, limits, measured) for p in distinct}
        done = {}
        for p in distinct:  # a reference run that is this very program, within its limit, is its result
            reference = _reference(p, limits)
            if reference is not None and p.code == p.reference and measured[reference].seconds <= limit[p]:
                done[p] = replace(measured[reference], limit_s=round(limit[p], 3))
        bar.update(len(done))
        todo = [p for p in distinct if p not in done]
        done |= dict(zip(todo, boxes.run([replace(p, timeout_s=limit[p]) for p in todo], bar)))
    return [done[p] for p in programs]


def _reference(program: Program, limits: Limits) -> Program | None:
    """The program that measures this one's reference, or None when its limit is fixed or unknown."""
    if program.timeout_s is not None or program.reference is None:
        return None
    return replace(program, code=program.reference, timeout_s=limits.reference_timeout_s)


def _limit(program: Program, limits: Limits, measured: dict[Program, ExecResult]) -> float:
    reference = _reference(program, limits)
    if reference is None:
        return program.timeout_s or limits.timeout_s
    return max(limits.timeout_s, limits.factor * measured[reference].seconds)


class _Boxes:
    """A pool of workers, each with a test box kept for one program after another and a fresh
    candidate box per program; the live ones are known, so an interrupt can kill them all."""

    def __init__(self, sandbox: Sandbox, limits: Limits, workers: int):
        self.sandbox, self.limits, self.workers = sandbox, limits, workers
        self.child_limits = {"memory_bytes": limits.memory_bytes, "output_bytes": limits.output_bytes,
                             "open_files": limits.open_files, "processes": limits.processes, "uid": sandbox.uid}
        self.live: set[subprocess.Popen] = set()
        self.lock, self.stop, self.local = threading.Lock(), threading.Event(), threading.local()

    def run(self, programs: list[Program], bar) -> list[ExecResult]:
        if not programs:
            return []
        pool = ThreadPoolExecutor(self.workers)
        try:
            futures = [pool.submit(self.one, program) for program in programs]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            return results_in_order(futures)
        except BaseException:  # KeyboardInterrupt above all: no box may outlive the run
            with self.lock:
                self.stop.set()
                _kill(*self.live)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            with self.lock:  # the test boxes of the pool's threads
                _kill(*self.live)
                self.live.clear()

    def one(self, program: Program) -> ExecResult:
        limits, budget = self.limits, program.timeout_s
        tester, control = self._tester()
        job = json.dumps({"setup": program.setup, "test": program.test, "entry_points": list(program.entry_points),
                          "budget_s": budget, "cpu_s": math.ceil(budget + TEST_CPU_S),
                          "answer_bytes": limits.answer_bytes, "answer_digits": limits.answer_digits}).encode()
        requests_r, requests_w = os.pipe()
        responses_r, responses_w = os.pipe()
        output_r, output_w = os.pipe()
        output = _Output(output_r, limits.output_bytes)
        start = time.perf_counter()
        candidate = None
        try:
            try:
                candidate = self._start(CANDIDATE, (requests_r, responses_w), output_w, {"cpu_s": math.ceil(budget) + 1})
                socket.send_fds(control, [job], [requests_w, responses_r])
            finally:  # the boxes hold their ends now
                for fd in (requests_r, responses_w, requests_w, responses_r, output_w):
                    os.close(fd)
            _feed(candidate, program.code.encode())
            verdict, timed_out = _receive(control, budget + GRACE_S, output, lambda: _kill(candidate))
            if verdict.get("reason") == "gone":  # it is ending by itself: let its status say how
                _wait(candidate, 1.0)
        finally:
            if candidate is not None:
                self._retire(candidate)
            output.drain()  # every writer is gone: the rest (up to the cap) is what it wrote last
        if not verdict:  # the test's box hung or died: the next program gets a new one
            self._retire(tester)
            self.local.tester = None
        passed, reason, detail = _judge(verdict, timed_out, candidate.returncode, tester.returncode,
                                        output.full, self.sandbox.contained)
        seconds = verdict.get("candidate_s", time.perf_counter() - start) if verdict else time.perf_counter() - start
        return ExecResult(passed, reason, detail, round(seconds, 4), f"{self.sandbox.isolation}; {VERDICT}",
                          output.tail(), round(budget, 3))

    def _tester(self) -> tuple[subprocess.Popen, socket.socket]:
        """This worker's test box, started on first use (and after one was lost)."""
        if getattr(self.local, "tester", None) is None:
            control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                proc = self._start(TESTER, (theirs.fileno(),), subprocess.DEVNULL, {})
            finally:
                theirs.close()
            self.local.tester = (proc, control)
        return self.local.tester

    def _start(self, source: str, fds: tuple[int, ...], output: int, limits: dict) -> subprocess.Popen:
        proc = self.sandbox.start(["-c", source, json.dumps(self.child_limits | limits), *map(str, fds), MARK], fds,
                                  stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, env={}, cwd="/",
                                  process_group=0)
        with self.lock:  # after the final sweep (under this lock) no box may start
            if self.stop.is_set():
                _kill(proc)
                raise KeyboardInterrupt
            self.live.add(proc)
        return proc

    def _retire(self, proc: subprocess.Popen) -> None:
        _kill(proc)
        with self.lock:
            self.live.discard(proc)


class _Output:
    """The candidate's stdout and stderr: a pipe read up to a byte cap, keeping the last 1,000 bytes."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.cap, self.size, self.last = fd, cap, 0, b""

    @property
    def full(self) -> bool:
        return self.size >= self.cap

    def read(self) -> bool:
        """Read what is there; False at the end or at the cap."""
        chunk = os.read(self.fd, min(1 << 16, self.cap - self.size)) if not self.full else b""
        self.size += len(chunk)
        self.last = (self.last + chunk)[-1000:]
        return bool(chunk) and not self.full

    def drain(self) -> None:
        try:
            while self.read():
                pass
        finally:
            os.close(self.fd)

    def tail(self) -> str:
        return self.last.decode("utf-8", "replace")


def _receive(control: socket.socket, timeout_s: float, output: _Output, stop) -> tuple[dict, bool]:
    """(the test box's verdict or {}, whether it timed out), reading the candidate's output meanwhile;
    `stop()` kills the candidate when its output reaches the cap (its test then finds it gone)."""
    deadline = time.monotonic() + timeout_s
    watched = [control, output.fd]
    while True:
        left = deadline - time.monotonic()
        ready = select.select(watched, [], [], max(0.0, left))[0] if left > 0 else []
        if not ready:
            return {}, True
        if control in ready:
            break
        if not output.read():
            watched.remove(output.fd)
            if output.full:
                stop()
    try:
        verdict = json.loads(control.recv(1 << 16) or b"{}")
    except (OSError, ValueError):
        verdict = {}
    return (verdict if isinstance(verdict, dict) else {}), False


def _judge(verdict: dict, timed_out: bool, candidate_status: int, tester_status: int, output_full: bool,
           contained: bool) -> tuple[bool, str, str]:
    """(passed, reason, detail) from the test's verdict; the candidate's status only explains a failure."""
    if output_full:
        return False, "output-limit", ""
    if not verdict:
        if timed_out:
            return False, "timeout", "the tests did not finish"
        return False, "exception", f"the test process ended without a verdict ({_status(tester_status, contained)})"
    if verdict.get("passed") is True:
        return True, "passed", ""
    reason, detail = str(verdict.get("reason")), str(verdict.get("detail"))
    if reason == "gone":  # the candidate's process ended while the test waited: its status says how
        status = _status(candidate_status, contained)
        reason = {"SIGXCPU": "timeout", "SIGXFSZ": "output-limit"}.get(status, "killed" if status.startswith("SIG")
                                                                       or status.startswith("signal") else "exit")
        detail = status
    return False, reason, detail


def _status(returncode: int, contained: bool) -> str:
    """A signal's name or "status N"; bwrap reports a child killed by signal N as 128 + N."""
    number = -returncode if returncode < 0 else returncode - 128 if contained and returncode > 128 else 0
    if not number:
        return f"status {returncode}"
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"


def _wait(proc: subprocess.Popen, timeout_s: float) -> None:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pass


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:  # it died before reading its job: the verdict (or its absence) says so
        pass


def _kill(*procs: subprocess.Popen) -> None:
    """Kill boxes whole and reap them. bwrap arms --die-with-parent only once the box exists, so rather
    than count on it: stop each bwrap (no new child can appear), SIGKILL its children (the box's init: the
    kernel then kills everything in that PID namespace), then bwrap's whole process group. All are stopped
    before any is waited for, so a sweep of many boxes waits STOP_WAIT_S at most, not that per box."""
    alive = [proc for proc in procs if proc.poll() is None]
    for proc in alive:
        try:
            os.kill(proc.pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_WAIT_S
    for proc in alive:
        try:
            _wait_stopped(proc.pid, deadline)
            for child in _children(proc.pid):
                os.kill(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in procs:
        proc.wait()


def _wait_stopped(pid: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] in "TtZX":
                return
        time.sleep(0.001)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """In the main thread, SIGTERM raises (as SIGINT does) so the boxes are killed before we exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
