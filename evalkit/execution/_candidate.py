"""The candidate's box: runs the model's code, then answers the test's calls. Untrusted from line one.

Run as `python -I -S -B -u -c <_prelude.py + _wire.py + this> LIMITS REQUESTS_FD RESPONSES_FD MARK`,
never imported. It reads the code on stdin, lowers its own resource limits, runs the code as __main__,
says "ready" (or what the code raised), then for each call {"call": name, "args", "kwargs"} on
REQUESTS_FD answers {"value": ...} or {"raised": [type name, message]} on RESPONSES_FD until the test
hangs up. Nothing here is trusted afterwards: the code can replace any of it. It holds neither the
tests nor the verdict channel; the worst it can do is answer with the values a correct function would
return.
"""
import builtins
import resource


def set_limits(limits):
    cpu = int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def raised(err):
    return {"raised": [type(err).__name__, str(err)[:200]]}


def main():
    limits, requests, responses = json.loads(sys.argv[1]), os.fdopen(int(sys.argv[2]), "rb"), int(sys.argv[3])
    code = sys.stdin.buffer.read().decode("utf-8", "replace")
    sys.stdin.close()
    set_limits(limits)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(code, "<solution>", "exec", dont_inherit=True), namespace)
    except BaseException as err:  # SystemExit too: the test raises it where it calls the candidate
        send(responses, raised(err))
        return
    send(responses, {"ready": True})
    for line in requests:
        try:
            request = json.loads(line)
            function = namespace.get(request["call"])
            if not callable(function):
                raise NameError(f"name {request['call']!r} is not defined")
            answer = {"value": encode(function(*decode(request["args"]), **decode(request["kwargs"])))}
        except BaseException as err:
            answer = raised(err)
        send(responses, answer)


main()
