"""Where evalkit's task plugins and data folders live, from a checkout or from an installed wheel.

A checkout keeps tasks/, prompts/ and reports/ beside evalkit/ (the layout the README describes). The
wheel installs them under evalkit (evalkit._tasks, evalkit._prompts, evalkit._reports; see setup.py), so
that installing evalkit claims no top-level module name but `evalkit`: a user's own `tasks` package
stays theirs. A checkout is recognised by the pyproject.toml beside evalkit/; its folders win, so a
working tree never picks up another copy's installed files.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() and \
    (PACKAGE_DIR.parent / "tasks" / "__init__.py").is_file() else None
ASSETS_DIR = PACKAGE_DIR / "assets"


def data_dir(name: str) -> Path:
    """prompts or reports: the checkout's folder, else the installed copy under evalkit."""
    return CHECKOUT / name if CHECKOUT else PACKAGE_DIR / f"_{name}"


def tasks_package() -> ModuleType:
    """The task registry package (tasks/ of the checkout, else evalkit._tasks)."""
    if CHECKOUT is None:
        return importlib.import_module("evalkit._tasks")
    loaded = sys.modules.get("tasks")
    init = CHECKOUT / "tasks" / "__init__.py"
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == init:
        return loaded
    spec = importlib.util.spec_from_file_location("tasks", init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["tasks"] = module
    spec.loader.exec_module(module)
    return module
