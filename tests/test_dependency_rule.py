"""The dependency rule, read from the source with ast: data flows one way, and nothing below knows what is above.

- Tasks (tasks/) and the task kinds (evalkit/task_kinds/) never import the engine, the model or a backend:
  what they may know of the model reaches them in a RunContext.
- The model (evalkit/model/) imports nothing above it: not the engine, serving, backends, scorers, tasks
  or the runner.
"""
import ast
from pathlib import Path

import pytest

from conftest import REPO

TASK_SIDE = sorted([*(REPO / "tasks").rglob("*.py"), *(REPO / "evalkit" / "task_kinds").rglob("*.py"),
                    REPO / "evalkit" / "task.py", REPO / "evalkit" / "protocol.py"])
MODEL = sorted((REPO / "evalkit" / "model").rglob("*.py"))
TASK_FORBIDDEN = ("evalkit.engine", "evalkit.model", "evalkit.backends")
MODEL_FORBIDDEN = ("evalkit.engine", "evalkit.serving", "evalkit.backends", "evalkit.scorers", "evalkit.runner",
                   "evalkit.task", "evalkit.task_kinds", "evalkit.protocol", "evalkit.commands", "evalkit.report",
                   "tasks")


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in the file names, anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported_modules(path)
                  if any(name == f or name.startswith(f + ".") for f in forbidden))


def test_the_files_are_found():
    assert len(TASK_SIDE) >= 15 and len(MODEL) >= 8


@pytest.mark.parametrize("path", TASK_SIDE, ids=lambda p: str(p.relative_to(REPO)))
def test_tasks_never_import_the_engine_the_model_or_a_backend(path):
    assert violations(path, TASK_FORBIDDEN) == []


@pytest.mark.parametrize("path", MODEL, ids=lambda p: str(p.relative_to(REPO)))
def test_the_model_imports_nothing_above_it(path):
    assert violations(path, MODEL_FORBIDDEN) == []


def test_the_rule_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from evalkit.engine.engine import Engine\n    import evalkit.backends.llama\n"
                   "from evalkit import model\n")
    assert violations(bad, TASK_FORBIDDEN) == ["evalkit.backends.llama", "evalkit.engine.engine",
                                               "evalkit.engine.engine.Engine", "evalkit.model"]
