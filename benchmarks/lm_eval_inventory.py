"""How many of lm-eval's stock task configs evalkit's YAML task kind loads, and why the others do not.

Walks a folder of lm-eval task files (default: the installed lm-eval's `tasks/`), and for every task
config (a `*.yaml` whose mapping, includes merged, has a string `task`) builds evalkit's task from it:
keys checked, `!function`s imported, metrics and filters built; no data is read. Group files (`group:`
with a `task:` list) are counted apart. Prints the counts and the configs that fail by cause, each with
its count and an example file: not text (multimodal keys), tasks written in Python (`class:`), a
package their helpers import that is not installed here (named), a metric their helpers fetch from the
Hub as they are imported (offline here), `unsafe_code`, and any other reason (the error's text up to its
first detail); then the share of the text-only configs (neither multimodal nor Python classes) that load.

    .venv/bin/python benchmarks/lm_eval_inventory.py [--tasks-dir DIR] [--show N]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOT_TEXT_YAML = ("multimodal", "Python-class task")  # not text-only task files: out of the share's base
PACKAGE = "a package not installed here (or not in the version installed)"
HUB = "a metric fetched from the Hub at import (offline here)"


def reason(error: BaseException, folder: Path) -> str:
    """The error without its file and values: what kind of thing failed, for counting."""
    text = str(error).replace(str(folder) + "/", "")
    text = re.sub(r"^\S+\.(yaml|py)\S*: ", "", text)  # the file
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]", "…", text)  # names and lists
    return f"{type(error).__name__}: {text[:90]}"


def cause(error: BaseException, folder: Path) -> tuple[str, str]:
    """(cause, detail) of a config that does not load; detail names the package, key or reason."""
    text = str(error)
    if found := re.search(r"key (doc_to_image|doc_to_audio|use_prompt): not supported", text):
        return ("multimodal" if found[1] != "use_prompt" else "promptsource (use_prompt)"), found[1]
    if "key class: a task written in Python" in text:
        return "Python-class task", "class"
    if "key unsafe_code" in text:
        return "unsafe_code (runs generated code)", "unsafe_code"
    if found := re.search(r"needs the package (\S+), not installed", text):
        root = found[1].split(".")[0]
        return PACKAGE, found[1] if importlib.util.find_spec(root) is None else f"{found[1]} (not in this {root})"
    if found := re.search(r"cannot import name '(\w+)' from '(\w+)'", text):
        return PACKAGE, f"{found[2]} (no {found[1]} in this version)"
    if found := re.search(r"Couldn't find a module script at \S*?(\w+)\.py", text):
        return HUB, f"evaluate.load({found[1]!r})"
    if re.search(r"(?i)needs a package not installed|please install|is not installed|are required", text):
        return PACKAGE, _packages(text)
    return "other", reason(error, folder)


def _packages(text: str) -> str:
    """The packages a helper's own error message asks for (its lm-eval extra, its `quoted` names, its
    `pip install` words)."""
    if found := re.search(r"lm[-_]eval\[\W*(\w+)", text):
        return f"lm-eval[{found[1]}]'s extras"
    if quoted := [name for name in re.findall(r"`([A-Za-z][\w\-]*)", text) if name != "pip"]:
        return " ".join(dict.fromkeys(quoted))
    if found := re.search(r"pip install ([\w\- ]+)", text):
        return found[1].strip()
    found = re.search(r"([A-Za-z][\w\-]*)\)? (?:is|are) not installed", text)
    return found[1] if found else reason(RuntimeError(text), Path("/"))[:60]


def inventory(folder: Path) -> tuple[int, int, int, dict[str, dict[str, list[Path]]]]:
    """(task configs, loaded, group files, cause -> detail -> the files that fail by it)."""
    from evalkit.task_kinds.yaml_format.catalogue import yaml_files
    from evalkit.task_kinds.yaml_format.config import from_mapping
    from evalkit.task_kinds.yaml_format.reader import read_yaml
    from evalkit.task_kinds.yaml_format.task import YamlTask

    configs = loaded = groups = 0
    failed: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in yaml_files(folder):
        try:
            shape = read_yaml(path, resolve_functions=False)
        except Exception as error:  # noqa: BLE001 (counted: a file evalkit cannot even read)
            configs += 1
            failed["other"][reason(error, folder)].append(path)
            continue
        if "group" in shape and isinstance(shape.get("task"), list):
            groups += 1
            continue
        if not isinstance(shape.get("task"), str):
            continue  # a template without a task, or a task_list file
        configs += 1
        try:
            YamlTask(from_mapping(read_yaml(path), path))
            loaded += 1
        except (Exception, SystemExit) as error:  # noqa: BLE001 (counted by cause; some helpers exit at import)
            kind, detail = cause(error, folder)
            failed[kind][detail].append(path)
    return configs, loaded, groups, failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-dir", type=Path, help="lm-eval task files (default: the installed lm-eval's)")
    parser.add_argument("--show", type=int, default=12, help="how many details to print per cause")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # task helpers that reach for the Hub at import fail at once
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    folder = args.tasks_dir
    if folder is None:
        try:
            import lm_eval
        except ImportError:
            print("lm_eval_inventory: lm-eval is not installed; give --tasks-dir", file=sys.stderr)
            return 2
        folder = Path(lm_eval.__file__).parent / "tasks"
    warnings.simplefilter("ignore")
    configs, loaded, groups, failed = inventory(folder)
    count = {kind: sum(len(paths) for paths in details.values()) for kind, details in failed.items()}
    print(f"{folder}: {configs} task configs, {loaded} load in evalkit ({100 * loaded / max(configs, 1):.1f}%); "
          f"{groups} group files")
    print(f"failing: {configs - loaded}, by cause")
    for kind, details in sorted(failed.items(), key=lambda item: -count[item[0]]):
        print(f"{count[kind]:6d}  {kind}")
        for detail, paths in sorted(details.items(), key=lambda item: -len(item[1]))[:args.show]:
            print(f"{len(paths):10d}  {detail}  (e.g. {paths[0].relative_to(folder)})")
        if len(details) > args.show:
            print(f"{'':10s}  ... {len(details) - args.show} more")
    text_only = configs - sum(count.get(kind, 0) for kind in NOT_TEXT_YAML)
    present = text_only - count.get(PACKAGE, 0) - count.get(HUB, 0)
    print(f"text-only configs (not multimodal, not Python classes): {text_only}, {loaded} load "
          f"({100 * loaded / max(text_only, 1):.1f}%); of those whose packages and metrics are here: {present}, "
          f"{100 * loaded / max(present, 1):.1f}% load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
