"""Hostile programs, by class of attack: each must end as a failure, the harness must carry on, and
nothing outside the box may be read, changed or reached.

An attack that needs to get something out of the box is written so that the candidate returns the
right answer only if the attack worked: these tests fail if the containment does.
"""
import os
import socket
import sys
import tempfile
import threading

import pytest

from evalkit.execution import Limits, Program, find_sandbox, run_programs

from conftest import DATA_DIR

SECRET_ENV = "EVALKIT_TEST_SECRET"
TEST = "def check(candidate):\n    assert candidate(2) == 4\ncheck(f)\n"
TOKEN = f"evalkit-leak-{os.getpid()}"


def answer_if(attack: str) -> str:
    """A candidate whose f(2) == 4 only if `attack` (a statement) runs without raising."""
    body = "".join(f"        {line}\n" for line in attack.splitlines())
    return f"def f(x):\n    try:\n{body}    except BaseException as e:\n        raise\n    return 2 * x\n"


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A world-writable folder of ours with a canary, a generations file and a cache next to it."""
    folder = tmp_path_factory.mktemp("outside")
    os.chmod(folder, 0o777)  # even a world-writable folder must stay untouched
    for name, text in (("canary.txt", "alive"), ("generations.jsonl", '{"task_id": "x", "completions": []}\n'),
                       ("cache.sqlite", "SQLite format 3")):
        (folder / name).write_text(text)
        os.chmod(folder / name, 0o666)
    return folder


@pytest.fixture(scope="module")
def listeners():
    """A TCP listener on 127.0.0.1, a UNIX socket file and an abstract UNIX socket: all must get nothing."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o777)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(os.path.join(folder, "listener.sock"))
    os.chmod(os.path.join(folder, "listener.sock"), 0o777)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0" + TOKEN)
    received, stop = [], threading.Event()

    def accept(server):
        server.listen()
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                received.append(connection.recv(100))
            except OSError:
                pass

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in (tcp, unix, abstract)]
    for thread in threads:
        thread.start()
    yield {"port": tcp.getsockname()[1], "unix": os.path.join(folder, "listener.sock"), "received": received}
    stop.set()
    for thread in threads:
        thread.join()
    for server in (tcp, unix, abstract):
        server.close()


def hostile_programs(outside, sockets) -> dict[str, tuple[str, set[str]]]:
    """name -> (the candidate's code, the reasons it may fail with)."""
    canary = outside / "canary.txt"
    humaneval = DATA_DIR / "humaneval" / "HumanEval.jsonl.gz"
    denied = {"exception"}
    return {
        # verdict forging: the candidate holds nothing of the verdict, so there is nothing to find
        "frames from a signal handler": (  # every int in reach is tried as the verdict's file descriptor
            "import signal, os, gc\nfds = set(range(100))\ndef handler(n, frame):\n    while frame:\n"
            "        fds.update(v for v in frame.f_locals.values() if type(v) is int and 0 <= v < 4096)\n"
            "        frame = frame.f_back\n    fds.update(o for o in gc.get_objects() if type(o) is int and 0 <= o < 4096)\n"
            "    for fd in fds:\n        try:\n            os.write(fd, b'{\"passed\": true, \"reason\": \"passed\"}\\n')\n"
            "        except OSError:\n            pass\nsignal.signal(signal.SIGALRM, handler)\n"
            "def f(x):\n    signal.setitimer(signal.ITIMER_REAL, 0.01)\n    import time\n    time.sleep(0.1)\n    return 0\n",
            {"not-data", "assertion"}),
        "forge every file descriptor": (
            "import os\nfor fd in range(100):\n    try:\n        os.write(fd, b'{\"passed\": true, \"reason\": \"passed\"}\\n')\n"
            "    except OSError:\n        pass\ndef f(x):\n    return 0\n", {"not-data", "assertion"}),
        "forge stdout and exit 0": ("print('{\"passed\": true}')\nimport os\nos._exit(0)\n", {"exit"}),
        "own memory through /proc/self/mem with dir_fd": (
            "import os, re\nproc = os.open('/proc', os.O_RDONLY)\nmaps = open(os.open('self/maps', os.O_RDONLY, dir_fd=proc)).read()\n"
            "mem = os.open('self/mem', os.O_RDWR, dir_fd=proc)\nhits = 0\n"
            "for m in re.finditer(r'([0-9a-f]+)-([0-9a-f]+) rw', maps):\n    a, b = int(m[1], 16), int(m[2], 16)\n"
            "    try:\n        hits += os.pread(mem, b - a, a).count(b'verdict')\n    except OSError:\n        pass\n"
            "for fd in range(3, 50):\n    try:\n        os.write(fd, b'{\"passed\": true}\\n')\n    except OSError:\n        pass\n"
            "os._exit(0)\n", {"exit", "not-data", "exception"}),  # having left root it may not open its own mem
        "kill the test's process": ("import os, signal\nfor pid in range(1, 200):\n    try:\n        os.kill(pid, 9)\n"
                                    "    except OSError:\n        pass\ndef f(x):\n    return 0\n", {"assertion", "killed"}),
        # always-equal return values: only plain data crosses
        "always-equal object": ("class A:\n    def __eq__(self, other):\n        return True\n"
                                "    __ne__ = lambda self, other: False\ndef f(x):\n    return A()\n", {"exception"}),
        "always-equal int subclass": ("class A(int):\n    def __eq__(self, other):\n        return True\n"
                                      "    __hash__ = int.__hash__\ndef f(x):\n    return A(0)\n", {"assertion"}),
        "a generator is not data": ("def f(x):\n    yield 4\n", {"exception"}),
        # reading the machine: the box holds only the interpreter and its standard library
        "the benchmark's data": (answer_if(f"open({str(humaneval)!r}, 'rb').read(1)"), denied),
        "the generations file": (answer_if(f"open({str(outside / 'generations.jsonl')!r}).read()"), denied),
        "the response cache": (answer_if(f"open({str(outside / 'cache.sqlite')!r}).read()"), denied),
        "the repository": (answer_if(f"open({__file__!r}).read()"), denied),
        "/etc/shadow and /etc/passwd": (answer_if("open('/etc/passwd').read()"), denied),
        "home": (answer_if("import os\nos.listdir(os.path.expanduser('~root'))"), denied),
        "the harness's command line": (answer_if(f"open('/proc/{os.getpid()}/cmdline').read()"), denied),
        "other processes' command lines": (answer_if(
            "import os\nassert [p for p in os.listdir('/proc') if p.isdigit() and int(p) > 3]"), {"assertion", "exception"}),
        "parent environment": (answer_if("open('/proc/1/environ').read()\nimport os\nassert os.environ.get("
                                         f"{SECRET_ENV!r})"), {"exception", "assertion"}),
        # changing the machine
        "write outside": (answer_if(f"open({str(outside / 'new.txt')!r}, 'w').write('x')"), denied),
        "overwrite the canary": (answer_if(f"open({str(canary)!r}, 'w').write('dead')"), denied),
        "delete the canary": (answer_if(f"import os\nos.remove({str(canary)!r})"), denied),
        "overwrite the interpreter": (answer_if(f"open({sys.executable!r}, 'ab').write(b'x')"), denied),
        "files in /tmp and /dev/shm": (
            f"import os\nopen('/tmp/{TOKEN}', 'w').write('x')\nopen('/dev/shm/{TOKEN}', 'w').write('x')\n"
            f"d = os.open('/tmp', os.O_RDONLY)\nos.close(os.open('{TOKEN}-fd', os.O_CREAT | os.O_WRONLY, dir_fd=d))\n"
            "def f(x):\n    return 0\n", {"assertion"}),
        "fill /tmp": ("import os\nfor i in range(200):\n    open(f'/tmp/{i}', 'wb').write(b'x' * 10**6)\n", {"exception"}),
        # the network and sockets
        "TCP to the host": (answer_if(f"import socket\nsocket.create_connection(('127.0.0.1', {sockets['port']}), "
                                      "timeout=1).sendall(b'x')"), denied),
        "UNIX socket file outside": (answer_if(f"import socket\ns = socket.socket(socket.AF_UNIX)\n"
                                               f"s.connect({sockets['unix']!r})\ns.sendall(b'x')"), denied),
        "abstract UNIX socket": (answer_if(f"import socket\ns = socket.socket(socket.AF_UNIX)\n"
                                           f"s.connect('\\0{TOKEN}')\ns.sendall(b'x')"), denied),
        # processes and signals
        "fork": (answer_if("import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)"), denied),
        "subprocess": (answer_if("import subprocess\nsubprocess.run(['/bin/sh', '-c', 'true'])"), denied),
        "fork bomb": ("import os\nwhile True:\n    os.fork()\n", {"exception"}),
        # signals to itself: kill and tgkill are not on the allow-list (and it is its PID namespace's init,
        # which ignores them); a real fault still kills it
        "a real-time signal": ("import signal\nsignal.raise_signal(40)\n", {"exception"}),
        "SIGRTMAX inside the call": ("import signal\ndef f(x):\n    signal.raise_signal(signal.SIGRTMAX)\n", {"exception"}),
        "SIGSEGV": ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", {"exception"}),
        "a segmentation fault": ("import ctypes\nctypes.string_at(0)\n", {"killed"}),
        "become root": (answer_if("import os\nos.setuid(0)"), denied),
        "a user namespace of its own": (answer_if("import ctypes\nassert ctypes.CDLL(None).unshare(0x10000000) == 0"),
                                        {"exception", "assertion"}),
        "kill the harness": (answer_if(f"import os\nos.kill({os.getpid()}, 9)"), denied),
        # limits and early exits
        "endless loop": ("def f(x):\n    while True:\n        pass\n", {"timeout"}),
        "50 GB": ("x = bytearray(50 * 10**9)\n", {"memory"}),
        "print a gigabyte": ("import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10**6)\n", {"output-limit"}),
        "sys.exit(0)": ("import sys\nsys.exit(0)\n", {"exit"}),
        "os._exit(0) inside the call": ("import os\ndef f(x):\n    os._exit(0)\n", {"exit"}),
        "atexit": ("import atexit, os\natexit.register(os._exit, 0)\ndef f(x):\n    return 0\n", {"assertion"}),
        "redefine check": ("def check(candidate):\n    pass\ndef f(x):\n    return 0\n", {"assertion"}),
        "override builtins": ("import builtins\nbuiltins.AssertionError = type('A', (Exception,), {})\n"
                              "builtins.len = lambda x: 3\ndef f(x):\n    return 0\n", {"assertion", "exception"}),
        "syntax error": ("def f(x)\n    return 2 * x\n", {"syntax"}),
        "answers out of turn": ("import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'{\"value\": 4}\\n' * 5)\n"
                                "    except OSError:\n        pass\ndef f(x):\n    return 0\n", {"assertion"}),
    }


@pytest.fixture(scope="module")
def outcomes(outside, listeners):
    os.environ[SECRET_ENV] = "s3cret"
    os.environ["PYTHONOPTIMIZE"] = "2"  # must not switch the test's asserts off
    try:
        cases = hostile_programs(outside, listeners)
        programs = [Program(code, TEST, ("f",)) for code, _ in cases.values()]
        results = run_programs(programs, Limits(timeout_s=2.0), progress=False)
    finally:
        del os.environ[SECRET_ENV], os.environ["PYTHONOPTIMIZE"]
    return {name: (result, allowed) for (name, (_, allowed)), result in zip(cases.items(), results)}


@pytest.mark.parametrize("name", list(hostile_programs(__import__("pathlib").Path("/x"), {"port": 1, "unix": "/x"})))
def test_hostile_program_fails(outcomes, name):
    result, allowed = outcomes[name]
    assert not result.passed
    assert result.reason in allowed, result


def test_nothing_outside_the_box_changed_or_was_reached(outcomes, outside, listeners):
    assert (outside / "canary.txt").read_text() == "alive"
    assert sorted(p.name for p in outside.iterdir()) == ["cache.sqlite", "canary.txt", "generations.jsonl"]
    assert listeners["received"] == []
    for folder in ("/tmp", "/dev/shm", tempfile.gettempdir()):
        assert not [name for name in os.listdir(folder) if name.startswith(TOKEN)]


def test_reads_fail_as_not_found_or_denied(outcomes):
    for name in ("the benchmark's data", "the generations file", "the response cache", "the repository",
                 "/etc/shadow and /etc/passwd", "the harness's command line", "write outside"):
        assert outcomes[name][0].detail in ("FileNotFoundError", "PermissionError"), (name, outcomes[name][0])


def test_the_box_is_contained_and_says_so(outcomes):
    result, _ = outcomes["endless loop"]
    assert "namespaces" in result.isolation and "rlimits" in result.isolation
    assert "verdict outside the candidate" in result.isolation
    assert outcomes["a segmentation fault"][0].detail == "SIGSEGV"
    assert outcomes["a real-time signal"][0].detail == "PermissionError"


def test_plain_data_crosses_both_ways():
    code = ("def f(x):\n    return [x, (1, 2.5), {3}, frozenset([4]), {'a': b'\\x00'}, 1j, None, True, float('inf'), "
            "10 ** 5000]\ndef g(*args, **kwargs):\n    return args, kwargs\n")
    test = ("r = f({(1, 2): [frozenset()]})\nassert r[0] == {(1, 2): [frozenset()]} and r[1:8] == [(1, 2.5), {3}, "
            "frozenset([4]), {'a': b'\\x00'}, 1j, None, True]\nassert r[8] == float('inf') and r[9] == 10 ** 5000\n"
            "assert g(1, k=[2]) == ((1,), {'k': [2]})\n")
    threads = "import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()\ndef f(x):\n    return 2 * x\n"
    results = run_programs([Program(code, test, ("f", "g")), Program(threads, TEST, ("f",))], progress=False)
    assert [r.reason for r in results] == ["passed", "passed"], results


def test_missing_containment_is_refused_and_the_override_is_said():
    from evalkit.execution import ContainmentMissing
    with pytest.raises(ContainmentMissing, match="--unsafe-execution"):
        find_sandbox("/nonexistent/bwrap")
    unsafe = find_sandbox("/nonexistent/bwrap", allow_unsafe=True)
    assert unsafe.isolation.startswith("UNSAFE") and not unsafe.contained
    good, bad = run_programs([Program("def f(x):\n    return 2 * x\n", TEST, ("f",)),
                              Program("import signal\nsignal.raise_signal(40)\n", TEST, ("f",))],
                             progress=False, sandbox=unsafe)
    assert good.passed and good.isolation.startswith("UNSAFE")
    assert (bad.passed, bad.reason, bad.detail) == (False, "killed", "signal 40")
