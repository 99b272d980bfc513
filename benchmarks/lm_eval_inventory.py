"""How many of lm-eval's stock task configs evalkit's YAML task kind loads, and why the others do not.

Walks a folder of lm-eval task files (default: the installed lm-eval's `tasks/`), and for every task
config (a `*.yaml` whose mapping, includes merged, has a string `task`) builds evalkit's task from it:
keys checked, `!function`s imported, metrics and filters built; no data is read. Group files (`group:`
with a `task:` list) are counted apart. Prints the counts, the share that loads, and the reasons of the
others, most frequent first (the error's text up to its first detail).

    .venv/bin/python benchmarks/lm_eval_inventory.py [--tasks-dir DIR] [--show N]
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def reason(error: Exception, folder: Path) -> str:
    """The error without its file and values: what kind of thing failed, for counting."""
    text = str(error).replace(str(folder) + "/", "")
    text = re.sub(r"^\S+\.(yaml|py)\S*: ", "", text)  # the file
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]", "…", text)  # names and lists
    return f"{type(error).__name__}: {text[:90]}"


def inventory(folder: Path) -> tuple[int, int, int, Counter]:
    from evalkit.task_kinds.yaml_format.config import from_mapping
    from evalkit.task_kinds.yaml_format.reader import read_yaml
    from evalkit.task_kinds.yaml_format.task import YamlTask
    from evalkit.task_kinds.yaml_format.catalogue import yaml_files

    configs = loaded = groups = 0
    reasons: Counter = Counter()
    for path in yaml_files(folder):
        try:
            shape = read_yaml(path, resolve_functions=False)
        except Exception as error:  # noqa: BLE001 (counted: a file evalkit cannot even read)
            configs += 1
            reasons[reason(error, folder)] += 1
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
        except (Exception, SystemExit) as error:  # noqa: BLE001 (counted by reason; some helpers exit at import)
            reasons[reason(error, folder)] += 1
    return configs, loaded, groups, reasons


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-dir", type=Path, help="lm-eval task files (default: the installed lm-eval's)")
    parser.add_argument("--show", type=int, default=15, help="how many reasons to print")
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
    configs, loaded, groups, reasons = inventory(folder)
    print(f"{folder}: {configs} task configs, {loaded} load in evalkit ({100 * loaded / max(configs, 1):.1f}%); "
          f"{groups} group files")
    for text, count in reasons.most_common(args.show):
        print(f"{count:6d}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
