"""`unsafe_code` tasks: HF evaluate's `code_eval` rule, judged in evalkit's box instead of this process.

lm-eval's code tasks (humaneval*, mbpp*, humaneval_infilling) score with a `!function` metric wrapping
code_eval: each candidate program is `candidate + "\\n" + reference` (the reference is doc_to_target,
e.g. the tests and `check(entry_point)`), it passes when it runs without an exception within code_eval's
timeout (3 s), and pass@k is the unbiased estimator over the document's candidates. Calling that function
would execute model-written code in the harness's process, so evalkit never calls it: `recognise` reads
the function's source and accepts it only as one of code_eval's wrappers, which this module then
replaces (`program`: the box's Program of one candidate; `items`: the wrapper's result from the verdicts).

What is a code_eval wrapper (read from the module's source, nothing imported or run): its module binds a
global to `<anything>.load("code_eval")`, and the function makes exactly one call `<that global>.compute(
references=<its parameter>, predictions=<its parameter>, k=<its parameter or a list of integers>)`
(`num_workers` and a constant `timeout` may be given too), and returns either that call's `[0]` (code_eval's
dict, every `pass@k` under its own name: humaneval's `pass_at_k`) or its `[0]["pass@N"]` (one number under
the function's name: mbpp's `pass_at_1`), directly or through one local name. Anything else is refused.

In the box the candidate runs alone (its box) and the reference in the test's box (evalkit/execution/box.py),
calling the names it uses without defining them (the candidate's functions: `check(candidate)`'s target,
HumanEval's `poly`...), and the builtins the candidate's top level redefines, through the pipe with plain
data. Verdicts are code_eval's wherever the test hands the candidate's functions plain data (every one of
492 HumanEval and 1,500 MBPP programs measured); a test that needs a live object from the candidate (a
class instance, a module it imported, a variable of the prompt) fails here where it could pass in code_eval.
"""
from __future__ import annotations

import ast
import builtins
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from evalkit.errors import UsageError
from evalkit.execution.box import ExecResult, Program
from evalkit.metrics.pass_at_k import pass_at_k

TIMEOUT_S = 3.0  # code_eval's default timeout per program
RULE = ("HF evaluate code_eval's rule (candidate, then reference; passes without an exception within the "
        "timeout; unbiased pass@k), judged in evalkit's box: the candidate in one box, the reference in another")


@dataclass(frozen=True)
class CodeEval:
    """One recognised code_eval wrapper: what it asks code_eval for, and how it returns the answer."""
    name: str                   # the function's name (its result key when it returns one number)
    ks: tuple[int, ...]         # code_eval's k list
    single: str | None          # "pass@N" when it returns that one number, None when it returns the dict
    timeout_s: float = TIMEOUT_S

    def keys(self) -> list[str]:
        """lm-eval's result keys: the dict's `pass@k` (each k, when the document has k candidates), or the name."""
        return [self.name] if self.single else [f"pass@{k}" for k in self.ks]

    def items(self, passed: list[bool]) -> dict[str, float]:
        """code_eval's answer for one document's candidates, shaped as the wrapper returns it."""
        found = {f"pass@{k}": pass_at_k(len(passed), sum(passed), k) for k in self.ks if len(passed) >= k}
        if self.single:
            return {self.name: found[self.single]} if self.single in found else {}  # code_eval omits it below k
        return found


def recognise(function: Callable, options: dict, where: str) -> CodeEval:
    """The code_eval wrapper `function` is (called with the metric entry's `options`), or UsageError."""
    name = getattr(function, "__name__", repr(function))
    refuse = f"{where}: key metric_list: {name} of an unsafe_code task"
    try:
        path = Path(inspect.getsourcefile(function))
        found = _read(path, name)
    except (OSError, TypeError, SyntaxError) as err:
        raise UsageError(f"{refuse}: cannot read its source ({err})") from err
    if isinstance(found, str):
        raise UsageError(f"{refuse} is not a wrapper of HF evaluate's code_eval ({found}); evalkit runs "
                         "generated code only through code_eval's rule in its box")
    ks, single, timeout_s, k_param = found
    if k_param:
        ks = options.get(k_param, ks)
        ks = [ks] if isinstance(ks, int) else ks
    if not isinstance(ks, (list, tuple)) or not ks or not all(isinstance(k, int) and k >= 1 for k in ks):
        raise UsageError(f"{refuse}: {f'option {k_param}' if k_param else 'k'} must be a positive integer or a "
                         f"list of them, got {ks!r}")
    if unknown := sorted(set(options) - {k_param}):  # lm-eval passes options as arguments
        raise UsageError(f"{refuse}: unknown option(s) {unknown}")
    if single and int(single.removeprefix("pass@")) not in ks:
        raise UsageError(f"{refuse}: returns {single} but asks code_eval for k={list(ks)}")
    return CodeEval(name, tuple(ks), single, timeout_s)


def is_wrapper(function: Callable) -> bool:
    """Whether `function` is one of code_eval's wrappers (a task without unsafe_code would run it here)."""
    try:
        return not isinstance(_read(Path(inspect.getsourcefile(function)), function.__name__), str)
    except (OSError, TypeError, SyntaxError, AttributeError):
        return False


@cache
def _read(path: Path, name: str) -> tuple | str:
    """(ks, single, timeout_s, the parameter giving k or None) of function `name` in `path`, or why it is no wrapper."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    loaders = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _loads_code_eval(node.value)
               for target in node.targets if isinstance(target, ast.Name)}
    if not loaders:
        return f"{path.name} loads no code_eval"
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if function is None:
        return f"no function {name} at the top of {path.name}"
    args = function.args
    defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    params = dict(zip([a.arg for a in args.args], defaults)) | \
        dict(zip([a.arg for a in args.kwonlyargs], args.kw_defaults))
    calls = [n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "compute" and isinstance(n.func.value, ast.Name) and n.func.value.id in loaders]
    if len(calls) != 1:
        return f"{len(calls)} calls of code_eval's compute, not one"
    (call,) = calls
    given = {kw.arg: kw.value for kw in call.keywords}
    if call.args or set(given) - {"references", "predictions", "k", "num_workers", "timeout"}:
        return "compute takes other arguments than references, predictions, k, num_workers, timeout"
    for key in ("references", "predictions"):
        if not (isinstance(given.get(key), ast.Name) and given[key].id in params):
            return f"compute's {key} is not the function's parameter"
    k_node, k_param, ks = given.get("k"), None, (1, 10, 100)  # code_eval's default k
    try:
        if isinstance(k_node, ast.Name) and k_node.id in params:
            k_param, default = k_node.id, params[k_node.id]
            ks = ast.literal_eval(default) if default is not None and not _is_none(default) else ()
        elif k_node is not None:
            ks = ast.literal_eval(k_node)
    except ValueError:
        return "compute's k is neither the function's parameter nor a constant"
    ks = tuple([ks] if isinstance(ks, int) else ks)
    timeout_s = TIMEOUT_S
    if "timeout" in given:
        try:
            timeout_s = float(ast.literal_eval(given["timeout"]))
        except (ValueError, TypeError):
            return "compute's timeout is not a constant"
    single = _returned(function, call)
    if single is False:
        return "it returns something other than compute(...)[0] or compute(...)[0][\"pass@N\"]"
    return ks, single, timeout_s, k_param


def _loads_code_eval(value: ast.AST) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, (ast.Attribute, ast.Name)) and \
        (value.func.attr if isinstance(value.func, ast.Attribute) else value.func.id) == "load" and \
        bool(value.args) and isinstance(value.args[0], ast.Constant) and value.args[0].value == "code_eval"


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _returned(function: ast.FunctionDef, call: ast.Call) -> str | None | bool:
    """None: every return gives compute(...)[0]; "pass@N": each gives [0]["pass@N"]; False: anything else."""
    names = {t.id for n in ast.walk(function) if isinstance(n, ast.Assign) and n.value is call
             for t in n.targets if isinstance(t, ast.Name)}

    def is_result(node: ast.AST) -> bool:
        return node is call or (isinstance(node, ast.Name) and node.id in names)

    def first(node: ast.AST) -> bool:  # compute(...)[0]
        return isinstance(node, ast.Subscript) and is_result(node.value) and \
            isinstance(node.slice, ast.Constant) and node.slice.value == 0

    shapes = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Return):
            value = node.value
            if value is not None and first(value):
                shapes.add(None)
            elif isinstance(value, ast.Subscript) and first(value.value) and isinstance(value.slice, ast.Constant) \
                    and isinstance(value.slice.value, str) and value.slice.value.startswith("pass@") \
                    and value.slice.value.removeprefix("pass@").isdigit():
                shapes.add(value.slice.value)
            else:
                return False
    return shapes.pop() if len(shapes) == 1 else False


def entry_points(candidate: str, reference: str) -> tuple[str, ...]:
    """The names the reference reaches in the candidate: those it uses but never binds, builtins aside, and
    the builtins it uses that the candidate's top level redefines (MBPP 126's `sum`). The candidate is only
    parsed, never run, here; one that does not parse defines nothing (its box reports the syntax error)."""
    try:
        tree = ast.parse(candidate)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = ast.Module(body=[], type_ignores=[])
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    shadowed = defined & set(dir(builtins)) & set(free_names(reference, with_builtins=True))
    return tuple(sorted({*free_names(reference), *shadowed}))


def free_names(reference: str, with_builtins: bool = False) -> tuple[str, ...]:
    """Names the reference uses but never binds (builtins aside, unless asked): in code_eval's program,
    the candidate's."""
    try:
        tree = ast.parse(reference)
    except (SyntaxError, ValueError):
        return ()  # the test's box reports the reference's syntax error
    bound = set() if with_builtins else set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    used = (n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return tuple(sorted(set(used) - bound))


def program(candidate: Any, reference: Any, timeout_s: float) -> Program:
    """code_eval's program `candidate + "\\n" + reference`, split between the box's two processes."""
    reference = str(reference)
    return Program(code=str(candidate), test=reference + "\n", entry_points=entry_points(str(candidate), reference),
                   timeout_s=timeout_s)


def candidates(answer: Any) -> list[str]:
    """The filtered answer as code_eval's predictions of one document (a lone string is one candidate)."""
    return [answer] if isinstance(answer, str) else [str(a) for a in answer]


def reasons(results: list[ExecResult]) -> list[str]:
    return [r.reason if not r.detail else f"{r.reason}: {r.detail}" for r in results]
