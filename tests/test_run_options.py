"""The run options are declared once (evalkit/run_options.py): the `run` parser, `evalkit.evaluate` and the
report's labels and notes all come from the declaration; an option that changes a number cannot be left
unsaid; flags read numbers and dtypes as papers and other tools write them; the modules import no circle."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

import evalkit
from conftest import REPO
from evalkit.cli import build_parser
from evalkit.errors import UsageError
from evalkit.run_options import OPTIONS, defaults

PACKAGE = REPO / "evalkit"


def run_args(*flags: str):
    return build_parser().parse_args(["run", "--tasks", "piqa", *flags])


def test_an_option_that_changes_a_number_says_how():
    unsaid = [o.flag for o in OPTIONS if o.numbers and o.label is None and o.note is None]
    assert not unsaid, f"options that change a number but no label or note says: {unsaid}"
    for option in OPTIONS:  # an option recorded for a task is one the report can read back
        assert option.applies in ("run", "every", "some", None), option.flag
        assert (option.setting is not None) == (option.applies in ("every", "some")), option.flag


def test_the_run_parser_and_evaluate_take_the_declared_options():
    parsed = vars(run_args())
    assert {k: v for k, v in parsed.items() if k not in ("handler", "command")} == {**defaults(), "tasks": "piqa"}
    with pytest.raises(TypeError, match="unknown option.*batchsize"):
        evalkit.evaluate(model="tiny", tasks="piqa", batchsize=2)


def module_imports() -> dict[str, set[str]]:
    """Every evalkit module -> the evalkit modules it imports, at the top or inside a function."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    graph = module_imports()
    assert {"evalkit.api", "evalkit.commands.run", "evalkit.run_options", "evalkit.model.loaders.meta",
            "evalkit.model.loaders.stored"} <= set(graph)
    assert "evalkit.run_options" in graph["evalkit.api"] and "evalkit.api" not in graph["evalkit.run_options"]
    assert cycles(graph) == []


def test_cycles_finds_a_circle():  # the checker itself: a two-module circle is found
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


@pytest.mark.parametrize("text, tokens", [("1e9", 10**9), ("1.4T", 1_400_000_000_000), ("200B", 200 * 10**9),
                                          ("500M", 500 * 10**6), ("1400000000000", 1_400_000_000_000)])
def test_training_tokens_as_papers_write_them(text, tokens):
    assert run_args("--training-tokens", text).training_tokens == tokens


def test_training_tokens_refused_in_one_line():
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--tasks", "piqa", "--training-tokens",
                           "1.5", "--output-dir", "x"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--training-tokens" in proc.stderr
    with pytest.raises(UsageError, match="--training-tokens"):
        evalkit.evaluate(model="tiny", tasks="piqa", examples=True, training_tokens="lots")


def test_training_tokens_reach_the_results(tmp_path):
    document = evalkit.evaluate(model="tiny", tasks=["piqa"], examples=True, limit=2, training_tokens="1.4T",
                                dtype="fp32", no_progress=True)
    assert document["model"]["training"]["tokens"] == 1_400_000_000_000
    assert document["run"]["dtype"] == "float32"


def test_dtype_aliases_everywhere():
    for alias, name in (("bf16", "bfloat16"), ("fp32", "float32"), ("fp16", "float16"), ("bfloat16", "bfloat16")):
        assert run_args("--dtype", alias).dtype == name
        assert build_parser().parse_args(["serve", "--dtype", alias]).dtype == name
        assert build_parser().parse_args(["plan", "--model", "7B", "--dtype", alias]).dtype == name
    with pytest.raises(SystemExit):
        run_args("--dtype", "int3")


def test_plan_prints_a_command_that_run_takes():
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "plan", "--model", "7B", "--dtype", "bf16",
                           "--json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    command = json.loads(proc.stdout)["command"].split()
    argv = command[command.index("run"):]
    args = build_parser().parse_args(argv)  # exits 2 on a value run refuses
    assert args.dtype == "bfloat16" and args.model == "7B"


def test_the_backend_flags_of_other_commands_come_from_the_same_declaration():
    score = build_parser().parse_args(["score", "--requests", "r.jsonl", "--dtype", "bf16", "--concurrency", "3"])
    generate = build_parser().parse_args(["generate", "--prompt", "x", "--dtype", "fp16"])
    assert (score.dtype, score.concurrency, generate.dtype) == ("bfloat16", 3, "float16")
    assert not hasattr(score, "load_generations") and not hasattr(score, "limit")
