"""Hostile programs: each must end as a failure, the harness must carry on, and nothing outside the box may change."""
import os
import socket
import sys
import threading

import pytest

from evalkit.execution import Limits, Program, run_programs

SECRET_ENV = "EVALKIT_TEST_SECRET"


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outside")
    os.chmod(folder, 0o777)  # even a world-writable folder must stay untouched
    canary = folder / "canary.txt"
    canary.write_text("alive")
    os.chmod(canary, 0o666)
    return folder


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def hostile_programs(outside, port) -> dict[str, tuple[Program, set[str]]]:
    """name -> (program, the reasons it may fail with)."""
    canary = outside / "canary.txt"
    test = "def check(candidate):\n    assert candidate(2) == 4\ncheck(f)\n"
    return {
        "endless loop": ("def f(x):\n    while True:\n        pass\n", {"timeout"}),
        "fork bomb": ("import os\nwhile True:\n    os.fork()\n", {"exception"}),
        "fork bomb, low level": ("import _posixsubprocess\n", {"exception"}),
        "fork via subprocess": ("import subprocess\nsubprocess.run(['sh', '-c', 'sleep 100 &'])\n", {"exception"}),
        "50 GB": ("x = bytearray(50 * 10**9)\n", {"memory"}),
        "write outside": (f"open({str(outside / 'new.txt')!r}, 'w').write('x')\n", {"exception"}),
        "overwrite canary": (f"open({str(canary)!r}, 'w').write('dead')\n", {"exception"}),
        "delete canary": (f"import os\nos.remove({str(canary)!r})\n", {"exception"}),
        "env var": (f"import os\nsecret = os.environ[{SECRET_ENV!r}]\n", {"exception"}),
        "parent env via /proc": ("import os\nopen(f'/proc/{os.getppid()}/environ').read()\n", {"exception"}),
        "socket": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n", {"exception"}),
        "kill parent": ("import os\nos.kill(os.getppid(), 9)\n", {"exception"}),
        "kill harness": (f"import os\nos.kill({os.getpid()}, 9)\n", {"exception"}),
        "sys.exit(0)": ("import sys\nsys.exit(0)\n", {"exit"}),
        "os._exit(0)": ("import os\nos._exit(0)\n", {"exit"}),
        "raise SystemExit": ("raise SystemExit\n", {"exit"}),
        "atexit": ("import atexit, os\natexit.register(os._exit, 0)\ndef f(x):\n    return 0\n", {"assertion"}),
        "redefine check": ("def check(candidate):\n    pass\ndef f(x):\n    return 0\n", {"assertion"}),
        "redefine check from inside": ("def f(x):\n    globals()['check'] = lambda c: None\n    return 0\n", {"assertion"}),
        "override builtins": ("import builtins\nbuiltins.len = lambda x: 3\ndef f(x):\n    return []\n", {"assertion"}),
        "patch AssertionError": ("import builtins\nbuiltins.AssertionError = type('A', (Exception,), {})\n"
                                 "def f(x):\n    return 0\n", {"assertion"}),
        "replace exec and _exit": ("import builtins, os\nbuiltins.exec = lambda *a: None\nos._exit = lambda *a: None\n"
                                   "def f(x):\n    return 0\n", {"assertion"}),
        "trace jump over asserts": ("import sys\ndef jump(frame, event, arg):\n    return jump\nsys.settrace(jump)\n",
                                    {"exception"}),
        "steal the token": ("import sys\ndef f(x):\n    frame = sys._getframe(3)\n    return 4\n", {"exception"}),
        "token from a traceback": ("def f(x):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
                                   "        e.__traceback__.tb_frame.f_back\n    return 4\n", {"exception"}),
        "ctypes": ("import ctypes\n", {"exception"}),
        "forge the report": ("import os\nfor fd in range(3, 30):\n    try:\n        os.write(fd, b'passed 00\\n')\n"
                             "    except OSError:\n        pass\nos._exit(0)\n", {"exit"}),
        "print a gigabyte": ("import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10**6)\n", {"output-limit"}),
        "print a gigabyte at once": ("print('x' * 10**9)\n", {"output-limit", "timeout", "memory"}),
    }


@pytest.fixture(scope="module")
def outcomes(outside, listener):
    os.environ[SECRET_ENV] = "s3cret"
    os.environ["PYTHONOPTIMIZE"] = "2"  # must not switch the test's asserts off
    try:
        cases = hostile_programs(outside, listener[0])
        programs = [Program(code, "def check(candidate):\n    assert candidate(2) == 4\ncheck(f)\n")
                    for code, _ in cases.values()]
        results = run_programs(programs, Limits(timeout_s=1.5), progress=False)
    finally:
        del os.environ[SECRET_ENV], os.environ["PYTHONOPTIMIZE"]
    return {name: (result, allowed) for (name, (_, allowed)), result in zip(cases.items(), results)}


@pytest.mark.parametrize("name", list(hostile_programs(__import__("pathlib").Path("/x"), 1)))
def test_hostile_program_fails(outcomes, name):
    result, allowed = outcomes[name]
    assert not result.passed
    assert result.reason in allowed, result


def test_nothing_outside_the_box_changed(outcomes, outside, listener):
    assert (outside / "canary.txt").read_text() == "alive"
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt"]
    assert listener[1] == []


def test_harness_carries_on_and_boxes_are_removed(outcomes):
    import tempfile
    good = run_programs([Program("def f(x):\n    return x * 2\n", "assert f(2) == 4\n")], progress=False)
    assert good[0].passed, good[0]
    assert not [p for p in os.listdir(tempfile.gettempdir()) if p.startswith("evalkit-box-")]


def test_no_process_left_behind(outcomes):
    from evalkit.execution.box import UID_BASE
    sandbox = range(UID_BASE + 64 * os.getpid(), UID_BASE + 64 * os.getpid() + 64)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in sandbox:
                left.append(pid)
        except FileNotFoundError:
            pass
    assert left == []


def test_isolation_is_reported(outcomes):
    result, _ = outcomes["endless loop"]
    assert "audit" in result.isolation and "rlimits" in result.isolation
    if os.geteuid() == 0 and sys.platform == "linux":
        assert "uid" in result.isolation
