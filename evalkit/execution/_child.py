"""The program inside the box: run by `python -I -S -c <this source> REPORT_FD`, never imported.

It reads its job, a marshalled dict {"token", "code", "test", "limits"}, from stdin, lowers its own resource
limits, arms an audit hook that
cannot be removed, runs the untrusted `code` and then the trusted `test` in one namespace, and
writes one JSON line to REPORT_FD. Only the line written after `test` returned normally carries the
secret token; the token came through stdin, which is closed before `code` runs, and lives only in
a local variable of `main()`, whose frame the audit hook keeps out of reach (no frame, traceback or
generator-frame access, no gc walks, no ctypes, no /proc). Standard library only: this runs under
whatever Python the sandbox user can execute.
"""
import builtins
import marshal
import os
import resource
import sys
import types  # noqa: F401  imported before the hook: at import it reads a traceback's tb_frame

# Audit events refused once untrusted code runs: everything that could reach the token, spawn or
# signal processes, open the network, or switch off assertions.
BLOCKED_PREFIXES = ("ctypes.", "subprocess.", "os.exec", "os.fork", "os.posix_spawn", "os.spawn",
                    "os.system", "os.kill", "os.killpg", "signal.pthread_kill", "socket.", "sys.settrace",
                    "sys.setprofile", "sys._current_frames", "sys._current_exceptions", "gc.get_",
                    "os.putenv", "os.unsetenv", "os.setuid", "os.setgid", "os.chroot", "pty.")
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}  # the audited ways to reach a frame
BLOCKED_IMPORTS = {"ctypes", "_ctypes", "_posixsubprocess", "cffi"}
WRITE_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "os.chflags"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def set_limits(limits):
    cpu = int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def arm_audit_hook(workdir):
    """Refuse the events above from now on; an audit hook cannot be removed once added.

    The hook binds what it uses as default arguments, so code that replaces builtins or os
    functions later does not change its decisions.
    """
    def hook(event, args, realpath=os.path.realpath, fsdecode=os.fsdecode, isinstance=isinstance,
             str_bytes=(str, bytes), sep=os.sep, blocked=BLOCKED_PREFIXES, frames=FRAME_ATTRIBUTES,
             imports=BLOCKED_IMPORTS, write_events=WRITE_EVENTS, write_flags=WRITE_FLAGS,
             PermissionError=PermissionError, ValueError=ValueError):
        def inside(path):
            real = realpath(fsdecode(path))
            return real == workdir or real.startswith(workdir + sep)

        if event == "sys._getframe":  # ValueError: what callers such as namedtuple already handle
            raise ValueError("frames are not available in the execution box")
        if event.startswith(blocked):
            raise PermissionError(f"{event} is not allowed in the execution box")
        if event == "object.__getattr__" and args[1] in frames:
            raise PermissionError("frames are not available in the execution box")
        if event == "import" and args[0].partition(".")[0] in imports:
            raise PermissionError(f"importing {args[0]} is not allowed in the execution box")
        if event == "open" and isinstance(args[0], str_bytes):
            path, mode, flags = args
            if realpath(fsdecode(path)).startswith("/proc") or fsdecode(path).startswith("/proc"):
                raise PermissionError("/proc is not available in the execution box")
            writes = (mode is not None and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) \
                or (mode is None and flags & write_flags)
            if writes and not inside(path):
                raise PermissionError("writing outside the working directory is not allowed")
        if event in write_events:
            for path in args[:2]:
                if isinstance(path, str_bytes) and not inside(path):
                    raise PermissionError(f"{event} outside the working directory is not allowed")

    sys.addaudithook(hook)


def classify(err, isinstance=isinstance, AssertionError=AssertionError, MemoryError=MemoryError,
             SystemExit=SystemExit, OSError=OSError):
    """The failure reason; builtins bound at definition, as the program may have replaced them."""
    if isinstance(err, AssertionError):
        return "assertion"
    if isinstance(err, MemoryError):
        return "memory"
    if isinstance(err, SystemExit):
        return "exit"
    if isinstance(err, OSError) and err.errno == 27:  # EFBIG: RLIMIT_FSIZE reached
        return "output-limit"
    return "exception"


def main():
    report_fd = int(sys.argv[1])
    job = marshal.loads(sys.stdin.buffer.read())
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)  # becomes fd 0 again
    set_limits(job["limits"])
    # Everything used after untrusted code starts is bound here, so that replacing a builtin or a
    # module attribute (exec, os._exit, json.dumps) cannot change what happens next.
    run, write, exit_, name_of = exec, os.write, os._exit, type
    passed_line = ("passed " + job.pop("token") + "\n").encode()
    try:  # compiled with optimize=0, so `assert` is kept whatever the interpreter's flags say
        code = compile(job.pop("code"), "<solution>", "exec", dont_inherit=True, optimize=0)
        test = compile(job.pop("test"), "<test>", "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError) as err:
        write(report_fd, ("failed syntax " + name_of(err).__name__ + "\n").encode())
        exit_(1)
    pristine_builtins = dict(builtins.__dict__)
    classify_error = classify
    arm_audit_hook(os.getcwd())
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        run(code, namespace)
        namespace["__builtins__"] = pristine_builtins  # the test sees builtins as they were before `code`
        run(test, namespace)
    except BaseException as err:  # SystemExit included: leaving early is never a pass
        failed = "failed " + classify_error(err) + " " + name_of(err).__name__ + "\n"
    else:
        write(report_fd, passed_line)
        exit_(0)  # no atexit handlers, no waiting for threads the program started
    write(report_fd, failed.encode())
    exit_(1)


main()
