"""The task registry: benchmark names, paper-table suites, and YAML tasks by path.

To add a benchmark, add one line to TASKS ("name": "module:Class", the module relative to this
package); modules are imported only when their task is asked for.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from evalkit.errors import UsageError
from evalkit.task import Task

TASKS = {
    "boolq": "boolq:BoolQ",
    "piqa": "piqa:PIQA",
    "siqa": "siqa:SIQA",
    "hellaswag": "hellaswag:HellaSwag",
    "winogrande": "winogrande:WinoGrande",
    "arc_easy": "arc:ARCEasy",
    "arc_challenge": "arc:ARCChallenge",
    "openbookqa": "openbookqa:OpenBookQA",
    "race_middle": "race:RACEMiddle",
    "race_high": "race:RACEHigh",
    "mmlu": "mmlu:MMLU",
    "humaneval": "humaneval:HumanEval",
    "mbpp": "mbpp:MBPP",
}
TASK_NAMES = list(TASKS)

SUITES = {
    "table3": ["boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"],
    "table6": ["race_middle", "race_high"],
    "table8": ["humaneval", "mbpp"],
    "table9": ["mmlu"],
    "ci": TASK_NAMES,
}


def get_task(name_or_yaml_path: str) -> Task:
    """A fresh task object: a registered name, or the path of a YAML task file."""
    if name_or_yaml_path.endswith((".yaml", ".yml")):
        from evalkit.yaml_task import load_yaml_task
        return load_yaml_task(Path(name_or_yaml_path))
    if name_or_yaml_path not in TASKS:
        raise UsageError(f"unknown task {name_or_yaml_path!r}; known tasks: {', '.join(TASK_NAMES)}; "
                         f"suites: {', '.join(SUITES)}; or a path to a .yaml task")
    module, cls = TASKS[name_or_yaml_path].split(":")
    return getattr(importlib.import_module(f".{module}", __name__), cls)()


def resolve_tasks(spec: str) -> list[Task]:
    """Tasks of a comma list of task names, YAML paths and suite names, in order, without repeats."""
    names: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        for name in SUITES.get(item, [item]):
            if name and name not in names:
                names.append(name)
    if not names:
        raise UsageError("no task given")
    return [get_task(name) for name in names]
