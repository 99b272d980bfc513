"""The test's box: runs the benchmark's trusted tests against candidates it reaches only through pipes.

Run as `python -I -S -B -u -c <_prelude.py + _wire.py + this> LIMITS CONTROL_FD MARK`, never imported,
and kept for one program after another. On CONTROL_FD (a SOCK_SEQPACKET socket only the harness holds
the other end of) each job arrives as one message {"setup", "test", "entry_points", "budget_s",
"cpu_s", "answer_bytes", "answer_digits"} carrying two file descriptors: the write end of the
candidate's requests and the read end of its responses. It runs `setup` (trusted helpers, e.g.
HumanEval's prompt) in a fresh namespace, binds each entry point to a stub that sends the call's
arguments to the candidate as plain data and returns the plain data it answers, runs `test`, closes
the pipes and answers the verdict as one message. A candidate that raised makes the stub raise (the
builtin exception of that name where there is one); one that used up `budget_s` of waiting raises
CandidateTimeout; one that is gone raises CandidateGone.

What the candidate sends is read within bounds: an answer over `answer_bytes` or holding an integer
of over `answer_digits` digits is not data (int() is quadratic in the digits); parsing an answer
counts against `budget_s` like waiting for it, and an interval timer stops it when that runs out.
Each job may use `cpu_s` seconds of this process's CPU (SIGXCPU then ends it as a timeout).
"""
import builtins
import contextlib
import math
import resource
import select
import signal
import socket
import time


class CandidateTimeout(Exception):
    """The candidate used up its time."""


class CandidateGone(Exception):
    """The candidate's process ended (an exit status, a signal, a limit)."""


class NotPlainData(TypeError):
    """The candidate answered with something that is not plain data."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one."""


class Candidate:
    def __init__(self, requests, responses, job):
        self.requests, self.responses, self.budget_s = requests, responses, job["budget_s"]
        self.answer_bytes, self.answer_digits = job["answer_bytes"], job["answer_digits"]
        self.waited_s, self.buffer = 0.0, bytearray()

    def receive(self, start=None):
        """The candidate's next answer; the time since `start` (when the call was sent) counts as waited."""
        start, searched = start or time.perf_counter(), 0
        try:
            while (end := self.buffer.find(b"\n", searched)) < 0:  # each byte searched once
                searched = len(self.buffer)
                if searched > self.answer_bytes:
                    raise NotPlainData(f"an answer over {self.answer_bytes} bytes")
                left = self.budget_s - self.waited_s - (time.perf_counter() - start)
                if left <= 0 or not select.select([self.responses], [], [], left)[0]:
                    raise CandidateTimeout(f"over {self.budget_s:.2f}s")
                chunk = os.read(self.responses, 1 << 20)
                if not chunk:
                    raise CandidateGone("the candidate's process ended")
                self.buffer += chunk
            line, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1:]
            if len(line) > self.answer_bytes:
                raise NotPlainData(f"an answer over {self.answer_bytes} bytes")
            with self.within(self.budget_s - self.waited_s - (time.perf_counter() - start)):
                return self.parse(line)
        finally:
            self.waited_s += time.perf_counter() - start

    @contextlib.contextmanager
    def within(self, left):
        """Run the block for at most `left` seconds (CandidateTimeout, raised by the SIGALRM handler)."""
        if left <= 0:
            raise CandidateTimeout(f"over {self.budget_s:.2f}s")
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def integer(self, digits):
        if len(digits) - digits.startswith("-") > self.answer_digits:
            raise ValueError(f"an integer over {self.answer_digits} digits")
        return int(digits)

    def parse(self, line):
        try:
            message = json.loads(line, parse_int=self.integer)
            if "value" in message:
                return decode(message["value"])
            if message == {"ready": True}:
                return None
            name, text = message["raised"]
        except (ValueError, TypeError, KeyError, RecursionError) as err:
            raise NotPlainData(f"malformed answer: {type(err).__name__}: {str(err)[:100]}") from None
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, BaseException) and kind not in (KeyboardInterrupt,):
            raise kind(str(text))
        raise CandidateError(f"{name}: {text}")

    def stub(self, name):
        def call(*args, **kwargs):
            try:
                request = {"call": name, "args": encode(list(args)), "kwargs": encode(kwargs)}
            except TypeError as err:
                raise NotPlainData(f"argument: {err}") from None
            sent = time.perf_counter()  # before sending: the candidate may answer before we wait
            try:
                send(self.requests, request)
            except OSError:
                raise CandidateGone("the candidate's process ended") from None
            return self.receive(sent)
        call.__name__ = name
        return call


def classify(err):
    if isinstance(err, CandidateTimeout):
        return "timeout"
    if isinstance(err, CandidateGone):
        return "gone"
    if isinstance(err, NotPlainData):
        return "not-data"
    if isinstance(err, AssertionError):
        return "assertion"
    if isinstance(err, MemoryError):
        return "memory"
    if isinstance(err, SystemExit):
        return "exit"
    if isinstance(err, SyntaxError):
        return "syntax"
    return "exception"


def out_of_time(signum, _frame):
    raise CandidateTimeout("the test's CPU time is used up" if signum == signal.SIGXCPU else "parsing took too long")


def judge(job, requests, responses):
    candidate = Candidate(requests, responses, job)
    namespace = {"__name__": "__main__"}
    used, hard = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(used) + job["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    try:
        candidate.receive()  # "ready", or what the candidate's code raised while loading
        exec(compile(job["setup"], "<setup>", "exec", dont_inherit=True, optimize=0), namespace)
        namespace.update({name: candidate.stub(name) for name in job["entry_points"]})
        exec(compile(job["test"], "<test>", "exec", dont_inherit=True, optimize=0), namespace)
        result = {"passed": True, "reason": "passed", "detail": ""}
    except BaseException as err:  # SystemExit included: leaving early is never a pass
        result = {"passed": False, "reason": classify(err), "detail": type(err).__name__}
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    return result | {"candidate_s": round(candidate.waited_s, 6)}


def main():
    limits, control = json.loads(sys.argv[1]), socket.socket(fileno=int(sys.argv[2]))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGXCPU, out_of_time)
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 24, 2)
        if not message:  # the harness hung up
            return
        try:
            verdict = judge(json.loads(message), *fds)
        finally:
            for fd in fds:
                os.close(fd)
        control.send(json.dumps(verdict).encode())


main()
