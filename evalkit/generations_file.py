"""Generations files: JSON lines {"task": ..., "task_id": ..., "completions": [...]}, for --save/--load-generations;
also read: {"task_id": ..., "completion": "..."}, one line per completion (human-eval's samples format).

The one reader and writer of the format. `task` names the task the file holds, the same on every line
(a file is one task's); files of other tools (human-eval's) and of evalkit before it have none, and
then the file name or the run says the task. `task_id` is the task's `doc_key` of the document
(HumanEval's "HumanEval/0", MBPP's task id, else the document's index); `completions` are every sample
of the document's generation requests, request after request, as the run wrote them (for a code task:
n at the pass@1 temperature, then n at the sampling temperature). Loading a file lets outputs be scored
(code re-executed, answers re-judged) separately from generating them, or come from another tool.

A run writes one file per task, OUT/generations/<task>.jsonl; `--load-generations` takes one such file
(a run of one task) or the folder (a run of several).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError, UsageError


@dataclass
class Generations:
    """One generations file: task_id -> completions, and the task its lines name (None: they name none)."""
    path: Path
    task: str | None
    completions: dict[str, list[str]]

    def one_each(self) -> bool:
        """One completion per problem (human-eval's samples, most tools): the task's n is 1."""
        return bool(self.completions) and all(len(texts) == 1 for texts in self.completions.values())


def task_file(folder: Path, task: str) -> Path:
    """Where a run writes (and a folder given to --load-generations holds) `task`'s generations."""
    return Path(folder) / f"{task}.jsonl"


def load_generations(path: Path) -> Generations:
    """The file; every malformed line is a DataError naming the file and the line."""
    generations: dict[str, list[str]] = {}
    single: set[str] = set()  # task ids given as one "completion" per line
    task: str | None = None
    for number, (where, record) in enumerate(read_jsonl(Path(path))):
        named = field(record, "task", where) if "task" in record else None
        if number == 0:
            task = named
        elif named != task:
            raise DataError(f"{where}: field 'task' is {named!r} where the first line's is {task!r}: a file "
                            "holds one task's generations")
        task_id = field(record, "task_id", where, (str, int))
        if isinstance(task_id, bool):
            raise DataError(f"{where}: field 'task_id' is not a string or integer")
        key = str(task_id)
        if "completions" not in record and isinstance(record.get("completion"), str):
            if key in generations and key not in single:
                raise DataError(f"{where}: task_id {task_id!r} appears twice")
            single.add(key)
            generations.setdefault(key, []).append(record["completion"])
            continue
        completions = record.get("completions")
        if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
            raise DataError(f"{where}: field 'completions' (or 'completion') is missing or not a list of strings")
        if key in generations:
            raise DataError(f"{where}: task_id {task_id!r} appears twice")
        generations[key] = completions
    return Generations(Path(path), task, generations)


def generations_of(path: Path, task: str) -> Generations:
    """`task`'s generations under --load-generations PATH: PATH/<task>.jsonl when PATH is a folder, else
    the file itself; a file whose lines name another task is refused."""
    path = Path(path)
    file = task_file(path, task) if path.is_dir() else path
    if not file.is_file():
        raise UsageError(f"--load-generations {path}: no {file.name} for {task} (a folder holds one "
                         "<task>.jsonl per task, as --save-generations writes OUT/generations/)")
    generations = load_generations(file)
    if generations.task is not None and generations.task != task:
        raise DataError(f"{file}: field 'task' is {generations.task!r}: the file holds {generations.task}'s "
                        f"generations, not {task}'s (a run of several tasks takes a folder of <task>.jsonl "
                        "files, as --save-generations writes OUT/generations/)")
    return generations


def save_generations(path: Path, task: str, generations: dict[str, list[str]]) -> None:
    """Write `task`'s task_id -> completions as JSON lines, in the given order."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for task_id, completions in generations.items():
            f.write(json.dumps({"task": task, "task_id": task_id, "completions": list(completions)}) + "\n")
