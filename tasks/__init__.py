"""The task registry: benchmark names, paper-table suites, and YAML tasks by path.

To add a benchmark, add one line to TASKS: "name": "module:Class", or ("module:Class", {settings})
to register one class under several names with different protocol settings (each passed to
`task.configure`), e.g. "naturalquestions_5shot": ("tasks.nq:NaturalQuestions", {"num_fewshot": 5}).
Modules are imported only when their task is asked for.

Suites are the paper's tables, read from the one place the reports read them (reports/table_specs.json
through evalkit.report.paper): suite "tableN" is the tasks of Table N's columns, offered once every one
of them is registered. Suite "ci" is every registered task.
"""
from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.task import Task

SHOTS = (0, 1, 5, 64)  # the columns of Tables 4 and 5
TASKS: dict[str, str | tuple[str, dict[str, Any]]] = {
    "boolq": "tasks.boolq:BoolQ",
    "piqa": "tasks.piqa:PIQA",
    "siqa": "tasks.siqa:SIQA",
    "hellaswag": "tasks.hellaswag:HellaSwag",
    "winogrande": "tasks.winogrande:WinoGrande",
    "arc_easy": "tasks.arc:ARCEasy",
    "arc_challenge": "tasks.arc:ARCChallenge",
    "openbookqa": "tasks.openbookqa:OpenBookQA",
    "race_middle": "tasks.race:RACEMiddle",
    "race_high": "tasks.race:RACEHigh",
    "mmlu": "tasks.mmlu:MMLU",
    "humaneval": "tasks.humaneval:HumanEval",
    "mbpp": "tasks.mbpp:MBPP",
    **{f"naturalquestions_{k}shot": ("tasks.naturalquestions:NaturalQuestions", {"num_fewshot": k}) for k in SHOTS},
    **{f"triviaqa_{k}shot": ("tasks.triviaqa:TriviaQA", {"num_fewshot": k}) for k in SHOTS},
    "math": "tasks.competition_math:MATH",
    "math_maj1@k": "tasks.competition_math:MATHMaj",
    "gsm8k": "tasks.gsm8k:GSM8K",
    "gsm8k_maj1@k": "tasks.gsm8k:GSM8KMaj",
    "crows_pairs": "tasks.crows_pairs:CrowSPairs",
    "winogender": "tasks.winogender:WinoGender",
    "truthfulqa_mc": "tasks.truthfulqa_mc:TruthfulQAMC",
    "truthfulqa_gen": "tasks.truthfulqa_gen:TruthfulQAGen",
    "realtoxicityprompts_basic": "tasks.realtoxicityprompts:RealToxicityPromptsBasic",
    "realtoxicityprompts_respectful": "tasks.realtoxicityprompts:RealToxicityPromptsRespectful",
}
TASK_NAMES = list(TASKS)


@functools.cache
def suites() -> dict[str, list[str]]:
    """Suite name -> task names: each paper table whose tasks are all registered, then "ci"."""
    from evalkit.report.paper import load_tables

    found = {}
    for table in load_tables():
        names = list(dict.fromkeys(column.task for column in table.columns))
        if all(name in TASKS for name in names):
            found[f"table{table.number}"] = names
    return found | {"ci": TASK_NAMES}


def get_task(name_or_yaml_path: str) -> Task:
    """A fresh task object: a registered name, or the path of a YAML task file."""
    if name_or_yaml_path.endswith((".yaml", ".yml")):
        from evalkit.task_kinds.yaml_task import load_yaml_task
        return load_yaml_task(Path(name_or_yaml_path))
    if name_or_yaml_path not in TASKS:
        raise UsageError(f"unknown task {name_or_yaml_path!r}; known tasks: {', '.join(TASK_NAMES)}; "
                         f"suites: {', '.join(suites())}; or a path to a .yaml task")
    entry = TASKS[name_or_yaml_path]
    target, settings = entry if isinstance(entry, tuple) else (entry, {})
    module, cls = target.split(":")
    task = getattr(importlib.import_module(module), cls)()
    task.name = name_or_yaml_path
    task.configure(**settings)
    return task


def resolve_tasks(spec: str) -> list[Task]:
    """Tasks of a comma list of task names, YAML paths and suite names, in order, without repeats."""
    names: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        for name in suites().get(item, [item]):
            if name and name not in names:
                names.append(name)
    if not names:
        raise UsageError("no task given")
    return [get_task(name) for name in names]
