"""The trace behind evalkit/execution/syscalls.py: every system call that boxed programs really make.

Runs, in boxes started as run_programs starts them but without the seccomp filter and under
`strace -f`, the benchmarks' reference programs (HumanEval's 164 canonical solutions, MBPP's 500
test-split solutions), each called by its tests from the test box, and EVERYDAY below: shapes of
correct programs that the references happen not to use (threads, sleeping, timers, files in /tmp,
much memory, deep recursion, many standard modules). Prints every system call the boxed interpreters
made from their execve on (the filter applies from there: bwrap's own setup is not filtered), where
it was seen, the fcntl commands, ioctl requests, prctl options and clone flags, and how all that
compares with syscalls.py.

Needs strace (apt-get install strace) and ../shared/data; run as root, as CI does. About three
minutes on 2 cores at load average 14.
Usage: python tests/scripts/trace_box_syscalls.py [--data-dir ../shared/data] [--workers 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this checkout's evalkit and tasks/

from evalkit.execution import Limits, Program, find_sandbox, run_programs, syscalls  # noqa: E402
from evalkit.execution.sandbox import Sandbox  # noqa: E402
from evalkit.task import DataSource  # noqa: E402
from tasks.humaneval import HumanEval  # noqa: E402
from tasks.mbpp import MBPP  # noqa: E402

TEST = "assert f(2) == 4\n"
EVERYDAY = {
    "threads": "import threading, queue\nfrom concurrent.futures import ThreadPoolExecutor\ndef f(x):\n"
               "    q = queue.Queue()\n    t = threading.Thread(target=lambda: q.put(2 * x))\n    t.start()\n"
               "    t.join()\n    with ThreadPoolExecutor(4) as pool:\n        return sum(pool.map(int, [q.get()]))\n",
    "time": "import time, datetime\ndef f(x):\n    time.sleep(0.01)\n    time.time(), time.perf_counter(), "
            "time.process_time(), time.monotonic(), time.thread_time()\n    datetime.datetime.now().astimezone()\n"
            "    time.strftime('%Y', time.localtime())\n    return 2 * x\n",
    "timers": "import signal\ndef handler(n, frame):\n    raise TimeoutError\ndef f(x):\n"
              "    signal.signal(signal.SIGALRM, handler)\n    signal.alarm(5)\n    signal.alarm(0)\n"
              "    signal.setitimer(signal.ITIMER_REAL, 5)\n    signal.setitimer(signal.ITIMER_REAL, 0)\n    return 2 * x\n",
    "files": "import os, tempfile, pathlib, shutil\ndef f(x):\n    with tempfile.TemporaryDirectory() as d:\n"
             "        p = pathlib.Path(d, 'a.txt')\n        p.write_text(str(x))\n        q = p.rename(p.with_suffix('.b'))\n"
             "        y = int(q.read_text())\n        os.listdir(d), os.stat(q), list(pathlib.Path(d).glob('*'))\n"
             "        shutil.copy(q, p)\n        os.makedirs(os.path.join(d, 'x', 'y'))\n        os.chmod(p, 0o600)\n"
             "        os.path.exists(p), os.path.isdir(d), os.access(p, os.R_OK)\n"
             "    with tempfile.NamedTemporaryFile('w+') as t:\n        t.write('abc')\n        t.flush()\n"
             "        t.seek(0)\n        t.read()\n    with open('/dev/null', 'w') as n:\n        n.write('x')\n"
             "    os.getcwd()\n    return 2 * y\n",
    "memory and recursion": "import sys\ndef depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\ndef f(x):\n"
                            "    sys.setrecursionlimit(20000)\n    depth(10000)\n    big = bytearray(300 * 2 ** 20)\n"
                            "    del big\n    numbers = list(range(5 * 10 ** 6))\n    numbers.append(1)\n    del numbers\n"
                            "    s = 'x' * 10 ** 8\n    s += 'y'\n    del s\n    try:\n        bytearray(50 * 10 ** 9)\n"
                            "    except MemoryError:\n        pass\n    return 2 * x\n",
    "standard modules": "import collections, itertools, functools, heapq, bisect, math, cmath, re, string, fractions\n"
                        "import decimal, statistics, hashlib, json, copy, operator, typing, dataclasses, enum, calendar\n"
                        "import array, struct, textwrap, unicodedata, zlib, random, secrets, uuid, base64, binascii\n"
                        "import pprint, io, csv, difflib, numbers, contextlib, abc, inspect, traceback, warnings, os\n"
                        "import sys, platform, locale, time, datetime, queue, weakref, gc, types, codecs, bz2, lzma\n"
                        "def f(x):\n    random.seed()\n    random.random(), secrets.token_hex(8), uuid.uuid4(), os.urandom(4)\n"
                        "    hashlib.sha256(b'x').hexdigest(), hashlib.md5(b'x').hexdigest(), zlib.compress(b'x')\n"
                        "    os.cpu_count(), os.getpid(), platform.platform(), locale.getpreferredencoding()\n"
                        "    print('out', 'x' * 1000)\n    print('err', file=sys.stderr)\n    warnings.warn('w')\n"
                        "    traceback.format_exc(), gc.collect()\n    return 2 * x\n",
    "output": "import sys\nfor i in range(20000):\n    print(i)\nsys.stdout.flush()\ndef f(x):\n    return 2 * x\n",
    "asyncio": "import asyncio\nasync def twice(x):\n    await asyncio.sleep(0.01)\n    return 2 * x\n"
               "def f(x):\n    return asyncio.run(twice(x))\n",
    "a timer fires": "import signal, time\nfired = []\ndef f(x):\n"
                     "    signal.signal(signal.SIGALRM, lambda n, frame: fired.append(n))\n"
                     "    signal.setitimer(signal.ITIMER_REAL, 0.01)\n    time.sleep(0.2)\n    return 2 * x if fired else 0\n",
    "raises": "def f(x):\n    raise ValueError(x)\n",
    "raises at load": "raise KeyError('x')\n",
    "exits": "import sys\ndef f(x):\n    sys.exit(3)\n",  # this one, and the one raising at load, fail
    "a thread raises": "import threading\ndef g():\n    raise ValueError\ndef f(x):\n"
                       "    t = threading.Thread(target=g)\n    t.start()\n    t.join()\n    return 2 * x\n",
}
EVERYDAY_TESTS = {"raises": "try:\n    f(2)\nexcept ValueError:\n    pass\nelse:\n    assert False\n"}
EXECVE = re.compile(r'^execve\("([^"]+)", \[(.*?)\]')
CALL = re.compile(r"^(\w+)\((.*)")


def traced(sandbox: Sandbox, folder: Path) -> Sandbox:
    """The same box without its seccomp filter, each under strace writing one file per process/thread."""
    strace = ("strace", "-ff", "-qq", "-e", "signal=none", "-s", "0", "-o", str(folder / "trace"))
    return dataclasses.replace(sandbox, prefix=(*strace, *sandbox.prefix), seccomp=b"")


def boxed_calls(folder: Path, python: str) -> tuple[dict[str, collections.Counter], dict[str, set[str]]]:
    """{"candidate"|"tests": Counter of call names} from every python started, with its threads, and the
    arguments that matter for the calls the list filters by argument."""
    calls = {"candidate": collections.Counter(), "tests": collections.Counter()}
    details: dict[str, set[str]] = collections.defaultdict(set)
    for path in sorted(folder.iterdir()):
        lines = path.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if (m := EXECVE.match(line)) and m[1] == python), None)
        if start is None and any(EXECVE.match(line) for line in lines):
            continue  # bwrap itself (strace's child): not filtered
        lines = lines[start or 0:]
        role = "tests" if any(line.startswith("recvmsg(") for line in lines) else "candidate"  # its job socket
        for line in lines:
            m = CALL.match(line)
            if not m:
                continue
            name, args = m[1], m[2]
            calls[role][name] += 1
            if name in ("fcntl", "ioctl"):
                details[name].add(args.split(", ")[1].split(")")[0])
            elif name == "prctl":
                details[name].add(args.split(",")[0].split(")")[0])
            elif name in ("clone", "clone3"):
                details[name].add(re.search(r"flags=([\w|]+)", args)[1])
            elif name in ("socket", "socketpair"):
                details[name].add(args.split(")")[0])
    return calls, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="keep the strace files in this folder")
    parser.add_argument("--groups", nargs="+", default=["humaneval", "mbpp", "everyday"])
    args = parser.parse_args()
    if shutil.which("strace") is None:
        sys.exit("needs strace: apt-get install strace")
    data = DataSource(data_dir=Path(args.data_dir))
    humaneval, mbpp = HumanEval(), MBPP()
    groups = {
        "humaneval": [humaneval.program(d, d["canonical_solution"]) for d in humaneval.docs(data)],
        "mbpp": [mbpp.program(d, d["code"]) for d in mbpp.docs(data)],
        "everyday": [Program(code, EVERYDAY_TESTS.get(name, TEST), ("f",)) for name, code in EVERYDAY.items()],
    }
    base = find_sandbox()
    root = Path(args.keep or tempfile.mkdtemp(prefix="evalkit-trace-"))
    seen: dict[str, dict[str, collections.Counter]] = {}
    details: dict[str, set[str]] = collections.defaultdict(set)
    for group, programs in groups.items():
        if group not in args.groups:
            continue
        folder = root / group
        folder.mkdir(parents=True, exist_ok=True)
        results = run_programs(programs, Limits(timeout_s=30.0), workers=args.workers, desc=f"tracing {group}",
                               sandbox=traced(base, folder))
        print(f"{group}: {len(programs)} programs, {sum(r.passed for r in results)} passed", file=sys.stderr)
        seen[group], found = boxed_calls(folder, base.python)
        for name, values in found.items():
            details[name] |= values
    if not args.keep:
        shutil.rmtree(root)
    everything = sorted({name for counters in seen.values() for c in counters.values() for name in c})
    print(f"{'system call':24} " + " ".join(f"{g + ' ' + r:>20}" for g in seen for r in ("candidate", "tests")))
    for name in everything:
        mark = "" if name in syscalls.ALLOWED else "   NOT ON THE LIST"
        print(f"{name:24} " + " ".join(f"{seen[g][r][name]:>20}" for g in seen for r in ("candidate", "tests")) + mark)
    for name, values in sorted(details.items()):
        print(f"{name} arguments seen: {', '.join(sorted(values))}")
    unseen = sorted(set(syscalls.ALLOWED) - set(everything))
    print(f"{len(everything)} system calls seen; on the list but not seen: {', '.join(unseen) or 'none'}")


if __name__ == "__main__":
    main()
