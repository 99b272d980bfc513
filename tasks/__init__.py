"""The task registry: benchmark names, paper-table suites, and YAML tasks by path.

To add a benchmark, add one line to TASKS: "name": "module:Class" (the module relative to this package,
which installs as evalkit._tasks; see evalkit/layout.py), or ("module:Class", {settings})
to register one class under several names with different protocol settings (each passed to
`task.configure`), e.g. "naturalquestions_5shot": ("nq:NaturalQuestions", {"num_fewshot": 5}).
Modules are imported only when their task is asked for.

Suites are the paper's tables, read from the one place the reports read them (reports/table_specs.json
through evalkit.report.paper): suite "tableN" is the tasks of Table N's columns, offered once every one
of them is registered. Suite "ci" is every registered task.
"""
from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.layout import ASSETS_DIR
from evalkit.task import Task

SHOTS = (0, 1, 5, 64)  # the columns of Tables 4 and 5
TASKS: dict[str, str | tuple[str, dict[str, Any]]] = {
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
    **{f"naturalquestions_{k}shot": ("naturalquestions:NaturalQuestions", {"num_fewshot": k}) for k in SHOTS},
    **{f"triviaqa_{k}shot": ("triviaqa:TriviaQA", {"num_fewshot": k}) for k in SHOTS},
    "math": "competition_math:MATH",
    "math_maj1@k": "competition_math:MATHMaj",
    "gsm8k": "gsm8k:GSM8K",
    "gsm8k_maj1@k": "gsm8k:GSM8KMaj",
    "crows_pairs": "crows_pairs:CrowSPairs",
    "winogender": "winogender:WinoGender",
    "truthfulqa_mc": "truthfulqa_mc:TruthfulQAMC",
    "truthfulqa_gen": "truthfulqa_gen:TruthfulQAGen",
    "realtoxicityprompts_basic": "realtoxicityprompts:RealToxicityPromptsBasic",
    "realtoxicityprompts_respectful": "realtoxicityprompts:RealToxicityPromptsRespectful",
}
TASK_NAMES = list(TASKS)
# MMLU's subjects, each a task of its own (as lm-eval's mmlu_<subject> subtasks); not in the "ci" suite
SUBJECT_TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    f"mmlu_{subject}": ("mmlu:MMLU", {"subject": subject})
    for subject in sorted(json.loads((ASSETS_DIR / "mmlu_categories.json").read_text(encoding="utf-8"))
                          ["subject_to_category"])}


@functools.cache
def suites() -> dict[str, list[str]]:
    """Suite name -> task names: each paper table whose tasks are all registered, "paper" (everything the
    paper reports: every table's tasks, and TruthfulQA's MC1/MC2 rows), then "ci"."""
    from evalkit.report.paper import load_tables

    found = {}
    for table in load_tables():
        names = list(dict.fromkeys(column.task for column in table.columns))
        if all(name in TASKS for name in names):
            found[f"table{table.number}"] = names
    paper = list(dict.fromkeys([name for names in found.values() for name in names] + ["truthfulqa_mc"]))
    return found | {"paper": paper, "ci": TASK_NAMES}


def get_task(name_or_yaml_path: str) -> Task:
    """A fresh task object: a registered name, or the path of a YAML task file."""
    if name_or_yaml_path.endswith((".yaml", ".yml")):
        from evalkit.task_kinds.yaml_task import load_yaml_task
        return load_yaml_task(Path(name_or_yaml_path))
    if name_or_yaml_path not in TASKS and name_or_yaml_path not in SUBJECT_TASKS:
        raise UsageError(f"unknown task {name_or_yaml_path!r}; known tasks: {', '.join(TASK_NAMES)}, "
                         f"mmlu_<subject>; suites: {', '.join(suites())}; or a path to a .yaml task")
    entry = TASKS.get(name_or_yaml_path) or SUBJECT_TASKS[name_or_yaml_path]
    target, settings = entry if isinstance(entry, tuple) else (entry, {})
    module, cls = target.split(":")
    task = getattr(importlib.import_module(f".{module}", __name__), cls)()
    task.name = name_or_yaml_path
    task.configure(**settings)
    return task


def resolve_tasks(spec: str, include_path: Path | None = None) -> list[Task]:
    """Tasks of a comma list of task names, YAML paths and suite names, in order, without repeats. With
    `include_path` (a folder of lm-eval task files), a name given in `spec` that the folder defines (a
    task, group or tag) is the folder's, as with lm-eval's --include_path; suites stay evalkit's tasks."""
    listed: set[str] = set()
    if include_path is not None:
        from evalkit.task_kinds.yaml_format.catalogue import catalogue
        listed = set(catalogue(include_path).names())
    names: list[tuple[str, bool]] = []
    for item in (part.strip() for part in spec.split(",")):
        for name in suites().get(item, [item]):
            entry = (name, item in listed and item not in suites())
            if name and entry not in names:
                names.append(entry)
    if not names:
        raise UsageError("no task given")
    from evalkit.task_kinds.yaml_task import load_from_folder
    return [task for name, from_folder in names
            for task in (load_from_folder(name, include_path) if from_folder else [get_task(name)])]
