"""The system calls a boxed process may make: an allow-list by name, with x86-64 numbers, from a trace.

Derived with tests/scripts/trace_box_syscalls.py: strace of boxes run without a filter, holding
HumanEval's 164 and MBPP's 500 reference programs, each called by its tests from the test box, and 13
everyday shapes of correct programs that the references do not use (threads, sleeping, a timer that
fires, asyncio, files in /tmp, much memory, deep recursion, many standard modules, output, exceptions).
Every call that trace saw is here except those that only serve starting a process, which the box
refuses (vfork, wait4 and pipe2, from platform.processor() running `uname -p`; clone3, answered
ENOSYS so that glibc falls back to clone, whose flags a filter can read: threads only), plus
restart_syscall (the kernel resuming a sleep that a signal stopped). fcntl, ioctl and socketpair pass
only with the arguments the trace saw (ARGUMENTS).

Anything else answers EPERM: among others ptrace, process_vm_readv/writev, io_uring_*, inotify_*,
fanotify_*, fallocate, keyctl, add_key, request_key, perf_event_open, bpf, userfaultfd, mount,
unshare, setns, personality, kill, socket, and fcntl's F_SETLEASE and F_NOTIFY.
"""

ALLOWED = {
    # the interpreter starting (the dynamic loader, glibc, CPython's own set-up)
    "execve": 59, "arch_prctl": 158, "set_tid_address": 218, "set_robust_list": 273, "rseq": 334,
    "access": 21, "readlink": 89, "pread64": 17, "sysinfo": 99, "getrandom": 318, "uname": 63,
    "prlimit64": 302,
    # _prelude.py leaving root (once it has, they can only name the uid it has)
    "setgroups": 116, "setresgid": 119, "setresuid": 117, "getresuid": 118,
    # memory
    "brk": 12, "mmap": 9, "mprotect": 10, "munmap": 11, "mremap": 25, "madvise": 28,
    # files: the read-only root, the private /tmp, stdio, the pipes to the other box
    "openat": 257, "read": 0, "write": 1, "close": 3, "lseek": 8, "newfstatat": 262, "getdents64": 217,
    "fcntl": 72, "ioctl": 16, "getcwd": 79, "mkdir": 83, "rmdir": 84, "unlink": 87, "unlinkat": 263,
    "rename": 82, "chmod": 90, "sendfile": 40,
    # time and timers
    "clock_gettime": 228, "clock_nanosleep": 230, "alarm": 37, "setitimer": 38,
    # signal handlers
    "rt_sigaction": 13, "rt_sigprocmask": 14, "rt_sigreturn": 15, "restart_syscall": 219,
    # threads (clone: threads only) and exiting
    "clone": 56, "futex": 202, "gettid": 186, "getpid": 39, "exit": 60, "exit_group": 231,
    # waiting on file descriptors (select, asyncio)
    "pselect6": 270, "epoll_create1": 291, "epoll_ctl": 233, "epoll_wait": 232,
    # sockets it was handed or made in pairs (the test box's job socket, asyncio's wake-up pair): no socket()
    "recvmsg": 47, "sendto": 44, "getsockname": 51, "getsockopt": 55, "getpeername": 52, "socketpair": 53,
    # the test box's CPU time per program
    "getrusage": 98,
}

# name: (the argument's index, {its allowed values by name})
ARGUMENTS = {
    "fcntl": (1, {"F_GETFD": 1, "F_SETFD": 2, "F_GETFL": 3, "F_DUPFD_CLOEXEC": 1030}),
    "ioctl": (1, {"TCGETS": 0x5401, "FIONBIO": 0x5421, "FIOCLEX": 0x5451}),
    "socketpair": (0, {"AF_UNIX": 1}),
}
ENOSYS = {"clone3": 435}
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
