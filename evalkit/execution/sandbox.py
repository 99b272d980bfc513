"""The kernel's containment for untrusted programs: bubblewrap (`bwrap`), or nothing when the user says so.

Each boxed process gets new PID, mount, network, IPC, UTS and cgroup namespaces, and is the PID
namespace's only process (bwrap --as-pid-1: no init of bwrap's beside it, outside the seccomp filter
and the rlimits); a new session; and dies with the harness (PR_SET_PDEATHSIG), so no program outlives
it however it ends. On the host it is nobody: when the harness is root, bwrap starts it as root with
only CAP_SETUID and CAP_SETGID and, before reading anything, it becomes the kernel's overflow uid
(_prelude.py), which owns nothing the box sees, losing every capability for good; otherwise a user
namespace maps it onto the harness's own uid (no other is possible without privilege). Its root is
an empty tmpfs holding only read-only binds of the interpreter, its standard library and the shared
libraries they load (found with `ldd`), a fresh /proc of its own PID namespace, a minimal /dev, and
size-capped private tmpfs /tmp and /dev/shm. It sees no repository, data, output folder, home, or
other box; with no network device but a loopback that is down, and a mount namespace of its own,
neither TCP nor UNIX socket files outside reach it. Every system call passes a seccomp allow-list
(syscalls.py, compiled by seccomp.py).

Where bwrap cannot start a box here, `find_sandbox` fails closed (ContainmentMissing) unless the user
allowed running without it (--unsafe-execution); which one is in force is `Sandbox.isolation`.
"""
from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.execution import seccomp, syscalls

BOX_UID = 1000                      # uid and gid inside the box when the harness is not root: any but 0
TMPFS_BYTES = 64 * 1024 ** 2        # /tmp and /dev/shm each: files a program writes live in memory
BWRAP_ENV = "EVALKIT_BWRAP"         # path of the bwrap to use (default: bwrap on PATH)
LEFT_OUT_MODULES = ("_tkinter", "_curses", "readline", "nis", "_crypt", "_dbm", "_gdbm")
UNSAFE = "UNSAFE: no containment (--unsafe-execution)"
PRELUDE = (Path(__file__).parent / "_prelude.py").read_text()


class ContainmentMissing(EvalkitError):
    """bwrap cannot start a box here, and running without one was not allowed."""


@dataclass(frozen=True)
class Sandbox:
    isolation: str                 # what is in force, as shown on stderr, in results.json and report.md
    prefix: tuple[str, ...] = ()   # the bwrap command line before the interpreter; () runs it bare
    python: str = sys.executable
    seccomp: bytes = b""           # a seccomp filter for bwrap --seccomp, or none
    uid: int | None = None         # the host uid a boxed process makes itself first (_prelude.py), if any

    def command(self, *python_args: str, seccomp_fd: int | None = None) -> list[str]:
        """argv that runs this sandbox's Python (unbuffered) with `python_args` inside a box (or bare, when unsafe);
        `seccomp_fd` is a pipe holding `self.seccomp`, one per command (bwrap reads it to the end)."""
        filter_ = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        return [*self.prefix, *filter_, self.python, "-I", "-S", "-B", "-u", *python_args]

    def start(self, python_args: list[str], pass_fds: tuple[int, ...], **popen) -> subprocess.Popen:
        """Popen the command, handing bwrap its seccomp filter through a pipe of its own."""
        if not self.seccomp:
            return subprocess.Popen(self.command(*python_args), pass_fds=pass_fds, **popen)
        read, write = os.pipe()
        try:
            os.write(write, self.seccomp)  # a few kilobytes: within a pipe's capacity
            os.close(write)
            return subprocess.Popen(self.command(*python_args, seccomp_fd=read), pass_fds=(*pass_fds, read), **popen)
        finally:
            os.close(read)

    @property
    def contained(self) -> bool:
        return bool(self.prefix)


def find_sandbox(bwrap: str | None = None, allow_unsafe: bool = False) -> Sandbox:
    """The bwrap sandbox if it works here; else the bare one if allowed; else ContainmentMissing."""
    sandbox, problem = _probe(bwrap or os.environ.get(BWRAP_ENV, "bwrap"))
    if sandbox is not None:
        return sandbox
    if allow_unsafe:
        return Sandbox(f"{UNSAFE}; bwrap: {problem}", python=_base_python())
    raise ContainmentMissing(f"cannot contain generated code: {problem}; install bubblewrap (apt-get install "
                             "bubblewrap) or pass --unsafe-execution to run it without containment")


@functools.lru_cache(maxsize=None)
def _probe(bwrap: str) -> tuple[Sandbox | None, str]:
    """Start one box and check, from inside, what it claims; (sandbox, "") or (None, why not)."""
    path = shutil.which(bwrap)
    if path is None:
        return None, f"{bwrap} not found"
    python = _base_python()
    uid = _overflow_uid() if os.geteuid() == 0 else None
    try:
        prefix = (path, *_bwrap_options(python, root=uid is not None))
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"cannot list the interpreter's libraries: {err}"
    owned = [source for source in _minimal_root(python) if uid is not None and os.stat(source).st_uid == uid]
    if owned:
        return None, f"the box's uid {uid} owns {owned[0]}, which the box would see"
    x86_64 = platform.machine() == "x86_64"
    check = ("import os\ntry:\n    os.fork()\nexcept OSError as e:\n    fork = e.errno\n"
             "nets = [line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]]\n"
             "ids = {line.split(':')[0]: set(line.split()[1:]) for line in open('/proc/self/status')}\n"
             "print(*ids['Uid'], *ids['Gid'], os.getpid(), sorted(os.listdir('/')), nets, fork)")
    if not x86_64:
        check = check.replace("os.fork()", "raise OSError(0, 'not tried: no seccomp filter')")
    sandbox = Sandbox("", prefix, python, seccomp.allow_list_filter() if x86_64 else b"", uid)
    try:
        proc = sandbox.start(["-c", PRELUDE + check, json.dumps({"uid": uid})], (), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={})
    except OSError as error:
        return None, f"{path} failed: {error}"
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, f"{path} did not start a box within 60 s"
    if proc.returncode != 0:
        return None, f"{path} cannot start a box here: {err.strip() or f'status {proc.returncode}'}"
    top = sorted({"dev", "proc", "tmp"} | {Path(source).parts[1] for source in _minimal_root(python)})
    inside = BOX_UID if uid is None else uid
    if out.strip() != f"{inside} {inside} 1 {top} ['lo'] {errno.EPERM if x86_64 else 0}":
        return None, f"{path} started a box that is not what was asked: {out.strip()}"
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    calls = (f"seccomp allow-list of {len(syscalls.ALLOWED)} system calls (no new processes)" if x86_64
             else "no seccomp filter (not x86-64): any system call, forks allowed")
    who = (f"host uid {uid} (overflow uid, no capabilities)" if uid is not None else
           f"user namespace: uid {BOX_UID} = host uid {os.geteuid()} (the harness's), no capabilities")
    return dataclasses.replace(sandbox, isolation=(
        f"{version or 'bwrap'}: pid+mount+net+ipc+uts+cgroup namespaces, alone in its pid namespace, {who}, "
        f"read-only minimal root, private /tmp and /dev/shm, {calls}")), ""


def _overflow_uid() -> int:
    """The uid the kernel shows for an unmapped one (65534 unless changed): nobody's, owner of nothing."""
    with open("/proc/sys/kernel/overflowuid") as f:
        return int(f.read())


def _bwrap_options(python: str, root: bool) -> list[str]:
    # as root: no user namespace (it would map the box onto host root); the process leaves root itself
    # first (_prelude.py), with the two capabilities that lets it do that and nothing else
    user = (["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if root else
            ["--unshare-user", "--disable-userns", "--uid", str(BOX_UID), "--gid", str(BOX_UID), "--cap-drop", "ALL"])
    options = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup", "--as-pid-1",
               *user, "--new-session", "--die-with-parent", "--clearenv",
               "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/nonexistent",
               "--proc", "/proc", "--dev", "/dev"]
    for folder in ("/tmp", "/dev/shm"):  # writable by whatever uid the box has, and by nothing outside it
        options += ["--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", folder]
    sources = _minimal_root(python)
    for folder in sorted({str(p) for source in sources for p in Path(source).parents} - {"/"}, key=len):
        options += ["--perms", "0755", "--dir", folder]  # bwrap's own would be 0700: shut to a uid that is not 0
    for source in sources:
        options += ["--ro-bind", source, source]
    stdlib = Path(_stdlib())
    if (stdlib / "site-packages").is_dir():  # the base install's packages are not the standard library
        options += ["--size", "4096", "--tmpfs", str(stdlib / "site-packages"), "--remount-ro", str(stdlib / "site-packages")]
    return options + ["--remount-ro", "/", "--chdir", "/tmp"]


def _minimal_root(python: str) -> list[str]:
    """The interpreter, its standard library, and the shared libraries they load, as absolute paths
    (not those of terminal, GUI and directory-service modules: importing these fails in the box)."""
    stdlib = _stdlib()
    objects = [python, *(str(p) for p in Path(stdlib, "lib-dynload").glob("*.so")
                         if not p.name.startswith(LEFT_OUT_MODULES))]
    libraries = set()
    for start in range(0, len(objects), 64):
        out = subprocess.run(["ldd", *objects[start:start + 64]], capture_output=True, text=True, timeout=60).stdout
        libraries.update(re.findall(r"(?:=> )?(/\S+) \(0x", out))
    return [python, stdlib, *sorted(libraries - {python})]


def _stdlib() -> str:
    return os.path.realpath(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
                                                      "installed_base": sys.base_prefix})["stdlib"])


def _base_python() -> str:
    """The interpreter behind our venv, if any: the box has the standard library only."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))
