"""The third round's attacks on the box, a test per class, each attacker run among correct programs:
every correct program passes, the attacker fails, the host's disk and the boxes' memory stay within
the box's limits, a host process started meanwhile is not stalled, and the candidate sees nothing of
the test box (neither its test's text nor the file that test reads).

Each attacker returns the right answer only if its attack worked, so these tests fail if the box does.
"""
import errno
import json
import os
import platform
import select
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evalkit.execution import Limits, Program, find_sandbox, run_programs, syscalls
from evalkit.execution.box import TESTER, _kill
from evalkit.execution.sandbox import _base_python, _minimal_root

HIDDEN = f"evalkit-hidden-{os.getpid()}"
TEST = "assert f(2) == 4\n"
# what the attacker's test does that the attacker must not learn: a text, and a file it reads
SPIED_TEST = (f"import os\nsecret = {HIDDEN!r}\n"
              "open(os.path.join(os.path.dirname(os.__file__), 'colorsys.py')).read()\nassert f(2) == 4\n")
CORRECT = [Program(f"import json, re, collections, fractions\ndef f(x):\n    return 2 * x  # {i}\n", TEST, ("f",))
           for i in range(6)]
LIMITS = Limits(timeout_s=3.0)
DISK_SLACK = 1024 ** 3      # others share this disk: only a drop of this size is the attack's (it reserved 8 GiB)
STALL_S = 2.0               # a host `python -I -S -c pass` takes tens of ms; the lease attack made it 12.4 s
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"


@dataclass
class Attack:
    code: str
    reasons: set[str]
    timeout_s: float | None = None

    def program(self) -> Program:
        return Program(self.code, SPIED_TEST, ("f",), timeout_s=self.timeout_s)


def refused_calls() -> str:
    """An attacker making every system call the allow-list leaves out, and fcntl, ioctl, socketpair and
    clone with arguments it refuses, all with arguments the kernel itself would reject (so that what it
    answers shows who refused: the filter says EPERM first); and, as a control, allowed calls with the
    same kind of arguments (the kernel's own errno). Any answer but EPERM is a win."""
    allowed = set(syscalls.ALLOWED.values()) | set(syscalls.ENOSYS.values())
    # uretprobe and uprobe (335, 336; Linux 6.11+, 6.16+) pass any seccomp filter by the kernel's design:
    # outside a probe's trampoline they kill the caller with SIGILL
    numbers = [n for n in range(463) if n not in allowed | {335, 336}]
    return LIBC + f"""
refused, control = {numbers!r}, {{'read': 0, 'close': 3, 'fcntl F_GETFD': (72, 1)}}
def call(number, *args):
    return libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args)), ctypes.get_errno()
bogus = (-1, -1, 0, 0, 0, 0)
passed = {{n: e for n in refused for r, e in [call(n, *bogus)] if r != -1 or e != {errno.EPERM}}}
for name, (number, cmd) in {{'fcntl F_SETLEASE': (72, 1024), 'fcntl F_NOTIFY': (72, 1026), 'fcntl F_SETFL': (72, 4),
                              'ioctl TIOCSTI': (16, 0x5412)}}.items():
    r, e = call(number, -1, cmd, 0)
    if r != -1 or e != {errno.EPERM}:
        passed[name] = e
for name, flags in {{'socketpair AF_INET': 2}}.items():
    r, e = call(53, flags, 1, 0, 0)
    if r != -1 or e != {errno.EPERM}:
        passed[name] = e
for name, flags in {{'clone (fork)': 17, 'clone a thread in a new net namespace': 0x40010000 | 0x100 | 0x800}}.items():
    r, e = call(56, flags, 0, 0, 0, 0)
    if r != -1 or e != {errno.EPERM}:
        passed[name] = e
kernel = [call(n, -1, 1, 0)[1] for n in (0, 3, 72)]
print('not refused:', passed, 'control errnos:', kernel, 'refused', len(refused) + 7)
def f(x):
    return 2 * x if passed else 0
"""


ATTACKS = {
    # write leases on the standard library's compiled modules (every Python start opens encodings'),
    # SIGIO ignored, then kept alive: other Pythons' open() waited on the lease
    "lease": Attack(LIBC + """import fcntl, signal, time, glob
signal.signal(signal.SIGIO, signal.SIG_IGN)
stdlib = os.path.dirname(os.__file__)
held = []
for path in glob.glob(stdlib + '/**/__pycache__/*.pyc', recursive=True) + glob.glob(stdlib + '/encodings/*.py'):
    try:
        fd = os.open(path, os.O_RDONLY)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        held.append(path)
    except OSError:
        pass
def f(x):
    time.sleep(6)
    return 2 * x if held else 0
""", {"assertion"}, timeout_s=8.0),
    # reserve host disk past RLIMIT_FSIZE through the output file (now a pipe), stderr, or a /tmp file
    "fallocate": Attack(LIBC + """won = []
fd = os.open('/tmp/big', os.O_CREAT | os.O_WRONLY)
for target in (1, 2, fd):
    for mode in (1, 0):  # FALLOC_FL_KEEP_SIZE, then a plain one
        if libc.fallocate(target, mode, ctypes.c_long(0), ctypes.c_long(8 << 30)) == 0:
            won.append((target, mode))
try:
    os.posix_fallocate(fd, 0, 8 << 30)
    won.append('posix_fallocate')
except OSError:
    pass
def f(x):
    return 2 * x if won else 0
""", {"assertion"}),
    # ptrace or write the memory of the box's pid 1 (bwrap's init, without the candidate's rlimits and
    # outside the filter) to run code without limits; or simply allocate past the limit as pid 1
    "ptrace of pid 1": Attack(LIBC + """won = []
for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:
    if pid == os.getpid():
        continue
    won.append(f'another process in the box: {pid}')
    try:
        os.close(os.open(f'/proc/{pid}/mem', os.O_RDWR))
        won.append(f'/proc/{pid}/mem')
    except OSError:
        pass
for pid in (1, os.getpid()):
    if libc.ptrace(0x4206, pid, 0, 0) == 0:  # PTRACE_SEIZE
        won.append(f'ptrace {pid}')
    buffer = ctypes.create_string_buffer(8)
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 8)
    if libc.process_vm_readv(pid, iov, 1, iov, 1, 0) >= 0:
        won.append(f'process_vm_readv {pid}')
if libc.ptrace(0, 0, 0, 0) == 0:  # PTRACE_TRACEME
    won.append('traceme')
try:
    block = bytearray(3 * 2 ** 30)
    won.append('3 GiB in pid 1')
except MemoryError:
    pass
print(os.getpid(), won)
def f(x):
    return 2 * x if won else 0
""", {"assertion"}),
    # answer with a 1.5-million-digit integer written straight to the answer pipe: int() is quadratic
    "bigint answer": Attack("""import os, sys, time
def f(x):
    os.write(int(sys.argv[3]), b'{"value": ' + b'9' * 1500000 + b'}\\n')
    time.sleep(60)
""", {"not-data"}),
    # an answer that is a set of integers with one hash: building it is quadratic, in the test's box
    "colliding set answer": Attack("""import json, os, sys, time
def f(x):
    os.write(int(sys.argv[3]), json.dumps({"value": {"s": [i * (2 ** 61 - 1) for i in range(1, 300000)]}}).encode() + b'\\n')
    time.sleep(60)
""", {"timeout"}),
    # an answer that never ends
    "endless answer": Attack("""import os, sys
def f(x):
    while True:
        os.write(int(sys.argv[3]), b'{"value": "' + b'x' * 2 ** 20)
""", {"not-data"}),
    # watch the standard library's folders (inodes shared with the host and every box) to learn what
    # the hidden test reads
    "inotify and fanotify": Attack(LIBC + """import select
stdlib = os.path.dirname(os.__file__).encode()
watch = libc.inotify_init1(os.O_NONBLOCK)
won = [] if watch < 0 else ['inotify']
if watch >= 0 and libc.inotify_add_watch(watch, stdlib, 0x20 | 0x01) >= 0:  # IN_OPEN | IN_ACCESS
    won.append('watch')
fan = libc.fanotify_init(0x200 | 0x0, os.O_RDONLY)  # FAN_REPORT_FID, FAN_CLASS_NOTIF
if fan >= 0:
    won.append('fanotify')
def f(x):
    seen = b''
    if watch >= 0 and select.select([watch], [], [], 0.5)[0]:
        seen = os.read(watch, 1 << 16)
    print(seen)
    return 2 * x if won else 0
""", {"assertion"}),
    "io_uring": Attack(LIBC + """params = ctypes.create_string_buffer(120)
ring = libc.syscall(425, 8, params)  # io_uring_setup
def f(x):
    return 2 * x if ring >= 0 else 0
""", {"assertion"}),
    "other refused calls": Attack(refused_calls(), {"assertion"}),
}


@dataclass
class Host:
    """What the host went through while programs ran: sampled every 50 ms by one thread, and a host
    Python started again and again by another."""
    tmp: str = field(default_factory=tempfile.gettempdir)
    free_before: int = 0
    free_min: int = 0
    box_rss_max: int = 0
    start_s_max: float = 0.0

    def __post_init__(self):
        self.stop = threading.Event()
        self.free_before = self.free_min = self.free()

    def free(self) -> int:
        stat = os.statvfs(self.tmp)
        return stat.f_bavail * stat.f_frsize

    def sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self.stop.wait(0.05):
            self.free_min = min(self.free_min, self.free())
            parents, rss, bwraps = {}, {}, []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        comm, _, rest = f.read().rpartition(")")
                except OSError:
                    continue
                fields = rest.split()
                parents[int(pid)], rss[int(pid)] = int(fields[1]), int(fields[21]) * page
                if int(fields[1]) == os.getpid() and comm.endswith("(bwrap"):
                    bwraps.append(int(pid))
            for box in bwraps:  # a box: a bwrap we started and every process under it
                total = 0
                for pid in rss:
                    ancestor = pid
                    while ancestor > 1 and ancestor != box:
                        ancestor = parents.get(ancestor, 0)
                    total += rss[pid] if ancestor == box else 0
                self.box_rss_max = max(self.box_rss_max, total)

    def start_python(self):
        while not self.stop.wait(0.2):
            start = time.perf_counter()
            subprocess.run([_base_python(), "-I", "-S", "-c", "pass"], check=True)
            self.start_s_max = max(self.start_s_max, time.perf_counter() - start)

    def __enter__(self):
        self.threads = [threading.Thread(target=self.sample), threading.Thread(target=self.start_python)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_among_correct_programs(name):
    attack = ATTACKS[name]
    with Host() as host:
        attacker, *correct = run_programs([attack.program(), *CORRECT], LIMITS, workers=2, progress=False)
    assert [r.reason for r in correct] == ["passed"] * len(CORRECT), correct
    assert not attacker.passed and attacker.reason in attack.reasons, attacker
    assert attacker.seconds <= attacker.limit_s + 0.5, attacker  # parsing an answer is inside the time limit
    assert host.free_before - host.free_min < DISK_SLACK, (host.free_before, host.free_min)
    assert 0 < host.box_rss_max <= LIMITS.memory_bytes, host.box_rss_max
    assert host.start_s_max < STALL_S, host.start_s_max
    assert HIDDEN not in attacker.output and "colorsys" not in attacker.output, attacker.output
    if name == "other refused calls":
        kernel = [errno.EBADF] * 3
        assert f"not refused: {{}} control errnos: {kernel} refused" in attacker.output, attacker.output


def test_the_box_uid_owns_nothing_the_box_sees():
    """Leases, ownership tricks and /proc attacks fail because the box's host uid owns none of its files."""
    sandbox = find_sandbox()
    if sandbox.uid is None:
        pytest.skip("the harness is not root: the box is the harness's own uid")
    owned = []
    for source in _minimal_root(sandbox.python):
        for root, folders, files in os.walk(source) if os.path.isdir(source) else [(os.path.dirname(source), [], [source])]:
            for entry in [root, *(os.path.join(root, name) for name in files)]:
                stat = os.lstat(entry)
                if sandbox.uid in (stat.st_uid, stat.st_gid):
                    owned.append(entry)
    assert owned == []


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the seccomp filter is x86-64's")
def test_the_filter_lets_the_box_start_and_thread():
    """The allow-list is what the box runs on: the probe (a fork refused with EPERM) and threads pass."""
    assert f"seccomp allow-list of {len(syscalls.ALLOWED)} system calls" in find_sandbox().isolation
    threads = "import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()\ndef f(x):\n    return 2 * x\n"
    assert run_programs([Program(threads, TEST, ("f",))], progress=False)[0].passed


@pytest.mark.parametrize("test, answers, expected", [
    ("while True:\n    pass\n", b"", "timeout"),                          # the job's CPU limit (1 s) ends it
    (TEST, b'{"value": 4}\n', "passed"),                                    # and the next job has its own
    (TEST, b'{"value": 12345678901}\n', "not-data"),                        # an integer over 10 digits
    (TEST, b'{"value": "' + b"x" * 2000 + b'"}\n', "not-data"),             # an answer over 1,000 bytes
    (TEST, b'{"value": "' + b"x" * 2000, "not-data"),                       # ... even one that never ends
])
def test_the_test_box_bounds_each_job(tester_box, test, answers, expected):
    """The test box alone, fed a candidate's answers directly: a CPU limit per job, caps on what it reads."""
    control, limits = tester_box
    requests_r, requests_w = os.pipe()
    responses_r, responses_w = os.pipe()
    os.write(responses_w, b'{"ready": true}\n' + answers)
    job = {"setup": "", "test": test, "entry_points": ["f"], "budget_s": 60.0, "cpu_s": 1,
           "answer_bytes": 1000, "answer_digits": 10}
    socket.send_fds(control, [json.dumps(job).encode()], [requests_w, responses_r])
    os.close(requests_w)
    os.close(responses_r)
    try:
        assert select.select([control], [], [], 120)[0], "no verdict within 120 s"
        verdict = json.loads(control.recv(1 << 16))
    finally:
        os.close(requests_r)
        os.close(responses_w)
    assert verdict["reason"] == expected, verdict


@pytest.fixture(scope="module")
def tester_box():
    sandbox = find_sandbox()
    control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    limits = {"memory_bytes": LIMITS.memory_bytes, "uid": sandbox.uid}
    tester = sandbox.start(["-c", TESTER, json.dumps(limits), str(theirs.fileno()), "tester"], (theirs.fileno(),),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env={}, cwd="/", process_group=0)
    theirs.close()
    yield control, limits
    control.close()
    _kill(tester)
