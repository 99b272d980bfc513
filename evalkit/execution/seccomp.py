"""The allow-list of syscalls.py compiled to a seccomp filter: classic BPF, read by bwrap (--seccomp FD)
and applied to the boxed process just before it runs the interpreter.

x86-64 only: any other architecture's system calls (i386 through int 0x80, x32) kill the process. A
call on the list passes (some only with the arguments the list names); clone3 answers ENOSYS so that
glibc falls back to clone, whose flags the filter can read; anything else answers EPERM, which Python
raises as PermissionError in the program that made it. No library: the program is a few hundred
instructions, assembled here (struct sock_filter, linux/filter.h; struct seccomp_data, linux/seccomp.h).
"""
from __future__ import annotations

import errno
import functools
import struct

from evalkit.execution import syscalls

AUDIT_ARCH_X86_64, X32_BIT = 0xC000003E, 0x40000000
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
NR, ARCH = 0, 4                    # offsets in struct seccomp_data
REFUSE = RET_ERRNO | errno.EPERM


def _arg(index: int) -> int:
    """Offset of the low 32 bits of argument `index` (little-endian): the filtered arguments are 32-bit
    (fcntl's and ioctl's commands, clone's flags), the kernel ignores the rest."""
    return 16 + 8 * index


def _one_of(index: int, values: list[int]) -> list[tuple[int, int, int, int]]:
    """Allow when argument `index` is one of `values`, else refuse."""
    checks = [(JEQ_K, len(values) - i, 0, value) for i, value in enumerate(values)]
    return [(LD_W_ABS, 0, 0, _arg(index)), *checks, (RET_K, 0, 0, REFUSE), (RET_K, 0, 0, RET_ALLOW)]


def _threads_only() -> list[tuple[int, int, int, int]]:
    """clone: a thread (CLONE_THREAD) and no new namespace, else refuse (no new process)."""
    return [(LD_W_ABS, 0, 0, _arg(0)),
            (JSET_K, 2, 0, syscalls.CLONE_NAMESPACES),   # -> refuse
            (JSET_K, 0, 1, syscalls.CLONE_THREAD),       # -> allow, else refuse
            (RET_K, 0, 0, RET_ALLOW),
            (RET_K, 0, 0, REFUSE)]


def _rule(name: str) -> list[tuple[int, int, int, int]]:
    if name == "clone":
        return _threads_only()
    if name in syscalls.ARGUMENTS:
        index, allowed = syscalls.ARGUMENTS[name]
        return _one_of(index, sorted(allowed.values()))
    return [(RET_K, 0, 0, RET_ALLOW)]


@functools.lru_cache(maxsize=None)
def allow_list_filter() -> bytes:
    program = [(LD_W_ABS, 0, 0, ARCH),
               (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
               (RET_K, 0, 0, RET_KILL_PROCESS),
               (LD_W_ABS, 0, 0, NR),
               (JGE_K, 0, 1, X32_BIT),
               (RET_K, 0, 0, RET_KILL_PROCESS)]
    for name, number in syscalls.ALLOWED.items():  # (code, jump if true, jump if false, k)
        block = _rule(name)
        program += [(JEQ_K, 0, len(block), number), *block]
    program += [(JEQ_K, 0, 1, syscalls.ENOSYS["clone3"]), (RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
                (RET_K, 0, 0, REFUSE)]
    assert len(program) <= 4096 and all(jt < 256 and jf < 256 for _, jt, jf, _ in program)  # BPF's limits
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
