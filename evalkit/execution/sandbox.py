"""The kernel's containment for untrusted programs: bubblewrap (`bwrap`), or nothing when the user says so.

Each boxed process gets new user, PID, mount, network, IPC, UTS and cgroup namespaces; a uid that is
not 0; no capabilities; a new session; and dies with the harness (PR_SET_PDEATHSIG), so no program
outlives it however it ends. Its root is an empty tmpfs holding only read-only binds of the
interpreter, its standard library and the shared libraries they load (found with `ldd`), a fresh
/proc of its own PID namespace, a minimal /dev, and size-capped private tmpfs /tmp and /dev/shm. It
sees no repository, data, output folder, home, or other box; with no network device but a loopback
that is down, and a mount namespace of its own, neither TCP nor UNIX socket files outside reach it.

Where bwrap cannot start a box here, `find_sandbox` fails closed (ContainmentMissing) unless the user
allowed running without it (--unsafe-execution); which one is in force is `Sandbox.isolation`.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError

BOX_UID = 1000                      # uid and gid inside the box: any but 0
TMPFS_BYTES = 64 * 1024 ** 2        # /tmp and /dev/shm each: files a program writes live in memory
BWRAP_ENV = "EVALKIT_BWRAP"         # path of the bwrap to use (default: bwrap on PATH)
LEFT_OUT_MODULES = ("_tkinter", "_curses", "readline", "nis", "_crypt", "_dbm", "_gdbm")
UNSAFE = "UNSAFE: no containment (--unsafe-execution)"


# seccomp: a filter of classic BPF, read from a pipe by bwrap (--seccomp FD) and applied before exec.
# Refuses new processes: fork, vfork, and clone without CLONE_THREAD (threads still work); clone3 says
# ENOSYS so glibc falls back to clone. Any other architecture's system calls (i386 through int 0x80, x32)
# kill the process. x86-64 only; elsewhere the box runs without it and says so.
AUDIT_ARCH_X86_64, X32_BIT, CLONE_THREAD = 0xC000003E, 0x40000000, 0x00010000
SYS_CLONE, SYS_FORK, SYS_VFORK, SYS_CLONE3 = 56, 57, 58, 435
RET_ALLOW, RET_KILL, RET_EAGAIN, RET_ENOSYS = 0x7FFF0000, 0x80000000, 0x00050000 | 11, 0x00050000 | 38
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def _no_new_processes_filter() -> bytes:
    program = [  # (code, jump if true, jump if false, k); jumps count the instructions skipped
        (LD_W_ABS, 0, 0, 4),                    # 0: the architecture
        (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),       # 1
        (RET_K, 0, 0, RET_KILL),                # 2
        (LD_W_ABS, 0, 0, 0),                    # 3: the system call's number
        (JGE_K, 8, 0, X32_BIT),                 # 4: -> 13, refuse
        (JEQ_K, 7, 0, SYS_FORK),                # 5: -> 13
        (JEQ_K, 6, 0, SYS_VFORK),               # 6: -> 13
        (JEQ_K, 4, 0, SYS_CLONE3),              # 7: -> 12
        (JEQ_K, 0, 2, SYS_CLONE),               # 8: -> 9, else -> 11
        (LD_W_ABS, 0, 0, 16),                   # 9: clone's flags (low half of args[0])
        (JSET_K, 0, 2, CLONE_THREAD),           # 10: a thread -> 11, else -> 13
        (RET_K, 0, 0, RET_ALLOW),               # 11
        (RET_K, 0, 0, RET_ENOSYS),              # 12
        (RET_K, 0, 0, RET_EAGAIN),              # 13
    ]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


class ContainmentMissing(EvalkitError):
    """bwrap cannot start a box here, and running without one was not allowed."""


@dataclass(frozen=True)
class Sandbox:
    isolation: str                 # what is in force, as shown on stderr, in results.json and report.md
    prefix: tuple[str, ...] = ()   # the bwrap command line before the interpreter; () runs it bare
    python: str = sys.executable
    seccomp: bytes = b""           # a seccomp filter for bwrap --seccomp, or none

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
            os.write(write, self.seccomp)  # a few hundred bytes: far below a pipe's capacity
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
    try:
        prefix = (path, *_bwrap_options(python))
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"cannot list the interpreter's libraries: {err}"
    x86_64 = platform.machine() == "x86_64"
    fork = "os.fork()" if x86_64 else "raise OSError(11, 'not tried: no seccomp filter')"
    check = (f"import os, socket\ntry:\n    {fork}\nexcept OSError as e:\n    fork = e.errno\n"
             "print(os.getuid(), os.getgid(), os.getpid(), sorted(os.listdir('/')), "
             "[n for _, n in socket.if_nameindex()], fork)")
    sandbox = Sandbox("", prefix, python, _no_new_processes_filter() if x86_64 else b"")
    try:
        proc = sandbox.start(["-c", check], (), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={})
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
    if out.strip() != f"{BOX_UID} {BOX_UID} 2 {top} ['lo'] 11":
        return None, f"{path} started a box that is not what was asked: {out.strip()}"
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    forks = "seccomp: no new processes" if x86_64 else "no seccomp filter (not x86-64): forks allowed"
    return dataclasses.replace(sandbox, isolation=(
        f"{version or 'bwrap'}: user+pid+mount+net+ipc+uts+cgroup namespaces, uid {BOX_UID}, no capabilities, "
        f"read-only minimal root, private /tmp and /dev/shm, {forks}")), ""


def _bwrap_options(python: str) -> list[str]:
    options = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(BOX_UID), "--gid", str(BOX_UID),
               "--cap-drop", "ALL", "--new-session", "--die-with-parent", "--clearenv",
               "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/nonexistent",
               "--proc", "/proc", "--dev", "/dev",
               "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
    for source in _minimal_root(python):
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
