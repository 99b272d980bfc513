"""Reading one lm-eval YAML file: `include:` merged (relative to the file, local keys win) and
`!function module.name` imported from the YAML's folder, as lm-eval's loader does.

A file that cannot be read, an include that is missing or circular, or a `!function` that does not
import is a UsageError naming the file (and the key where there is one).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

from evalkit.errors import UsageError


def import_function(spec: str, folder: Path, where: str) -> Callable:
    """`utils.process_docs` -> the function `process_docs` of `folder/utils.py` (else an importable module)."""
    module_name, _, name = spec.rpartition(".")
    if not module_name:
        raise UsageError(f"{where}: !function {spec!r} names no module (expected module.function)")
    path = (folder / f"{module_name.replace('.', '/')}.py").resolve()
    try:
        if path.is_file():
            key = str(path.with_suffix(""))  # one module object per file, as lm-eval caches them
            module = sys.modules.get(key)
            if module is None:
                loader_spec = importlib.util.spec_from_file_location(key, path)
                module = importlib.util.module_from_spec(loader_spec)
                loader_spec.loader.exec_module(module)
                sys.modules[key] = module
        else:
            module = importlib.import_module(module_name)
        return getattr(module, name)
    except ModuleNotFoundError as err:  # the module itself, or a package it imports (lm_eval: for its registries)
        if (err.name or "").split(".")[0] == "lm_eval" and importlib.util.find_spec("lm_eval") is None:
            why = "the module imports lm_eval (lm-eval's registries), not installed here: pip install lm-eval"
        elif err.name is None:  # raised by the module itself, with its own words
            why = f"the module needs a package not installed here ({str(err).splitlines()[0] if str(err) else ''})"
        elif path.is_file() or not (module_name + ".").startswith(f"{err.name}."):
            why = f"the module needs the package {err.name}, not installed here"
        else:
            why = f"no module {module_name} (no {path.name} beside the file, nor an installed one)"
        raise UsageError(f"{where}: !function {spec}: {why}") from err
    except Exception as err:  # an import runs arbitrary code: any failure is the file's
        raise UsageError(f"{where}: !function {spec}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                         ) from err


class FunctionRef(str):
    """A `!function` as written (module.name), imported once the file is read (or left as is)."""


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: FunctionRef(loader.construct_scalar(node)))


def _imported(value: Any, path: Path, key: str) -> Any:
    """`value` with every FunctionRef imported from the folder of `path`; errors name the key."""
    if isinstance(value, FunctionRef):
        return import_function(value, path.parent, f"{path}: key {key}")
    if isinstance(value, dict):
        return {k: _imported(v, path, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_imported(v, path, key) for v in value]
    return value


def read_yaml(path: Path, resolve_functions: bool = True, _seen: tuple[Path, ...] = ()) -> dict:
    """The file's mapping with its includes merged in (each include's own includes first)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise UsageError(f"{path}: include cycle through {' -> '.join(str(p) for p in _seen)}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: an lm-eval task file is a mapping of keys, got {type(raw).__name__}")
    if resolve_functions:
        raw = _imported(raw, path, "")
    includes = raw.pop("include", None)
    if includes is None:
        return raw
    merged: dict = {}
    for include in includes if isinstance(includes, list) else [includes]:
        target = Path(include) if Path(include).is_absolute() else path.parent / include
        if not target.is_file():
            raise UsageError(f"{path}: key include: no file {target}")
        found = read_yaml(target, resolve_functions, _seen + (path.resolve(),))
        found.pop("task_list", None)  # an included file's task_list belongs to that file
        merged.update(found)
    return merged | raw
