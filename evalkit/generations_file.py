"""Generations files: JSON lines {"task_id": ..., "completions": [...]}, for --save/--load-generations;
also read: {"task_id": ..., "completion": "..."}, one line per completion (human-eval's samples format).

The one reader and writer of the format. `task_id` is the task's `doc_key` of the document (HumanEval's
"HumanEval/0", MBPP's task id, else the document's index); `completions` are every sample of the
document's generation requests, request after request, as the run wrote them (for a code task: n at
the pass@1 temperature, then n at the sampling temperature). Loading a file lets outputs be scored
(code re-executed, answers re-judged) separately from generating them, or come from another tool.
"""
from __future__ import annotations

import json
from pathlib import Path

from evalkit.data import field, read_jsonl
from evalkit.errors import DataError


def load_generations(path: Path) -> dict[str, list[str]]:
    """task_id -> completions; every malformed line is a DataError naming the file and the line."""
    generations: dict[str, list[str]] = {}
    single: set[str] = set()  # task ids given as one "completion" per line
    for where, record in read_jsonl(Path(path)):
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
    return generations


def save_generations(path: Path, generations: dict[str, list[str]]) -> None:
    """Write task_id -> completions as JSON lines, in the given order."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for task_id, completions in generations.items():
            f.write(json.dumps({"task_id": task_id, "completions": list(completions)}) + "\n")
