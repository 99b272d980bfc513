"""Generations files: JSON lines {"task_id": ..., "completions": [...]}, for --save/--load-generations;
also read: {"task_id": ..., "completion": "..."}, one line per completion (human-eval's samples format).

Loading them lets code be executed (and re-executed) separately from generating it.
"""
from __future__ import annotations

import dataclasses
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


def answers_from_generations(task, docs: list[dict], seed: int, generations: dict[str, list[str]],
                             path: Path, n_given: int | None) -> dict:
    """Request -> GenerateResult for a code task's documents, from a generations file instead of a model.

    Each problem's completions are split over its requests in order (n at the pass@1 temperature,
    then n at the sampling temperature), as --save-generations wrote them. Unless the user gave n
    (`n_given`), the task's n is set from the file. A file with one completion per problem (what most
    tools write) gives pass@1 from it, and no pass@k of larger k (the report says so).
    """
    from evalkit.requests import GenerateResult

    answers = {}
    if n_given is None and docs and all(len(generations.get(task.doc_key(doc), ())) == 1 for doc in docs):
        task.protocol = dataclasses.replace(task.protocol, n=1)
        for doc_id, doc in enumerate(docs):
            first, *others = task.requests(doc, doc_id, seed)
            answers[first] = GenerateResult(tuple(generations[task.doc_key(doc)]))
            answers.update((request, GenerateResult(())) for request in others)
        return answers
    if docs and task.doc_key(docs[0]) in generations and n_given is None:  # n as the file was written
        n = max(1, len(generations[task.doc_key(docs[0])]) // len(task.requests(docs[0], 0, seed)))
        task.protocol = dataclasses.replace(task.protocol, n=n)
    for doc_id, doc in enumerate(docs):
        requests = task.requests(doc, doc_id, seed)
        key = task.doc_key(doc)
        if key not in generations:
            raise DataError(f"{path}: no completions for task_id {key!r} ({task.name})")
        completions, needed = generations[key], sum(r.n for r in requests)
        if len(completions) != needed:
            raise DataError(f"{path}: task_id {key!r} has {len(completions)} completions; {task.name} with "
                            f"n={task.protocol.n} needs {needed} (n per temperature; see --n-samples)")
        start = 0
        for request in requests:
            answers[request] = GenerateResult(tuple(completions[start:start + request.n]))
            start += request.n
    return answers

