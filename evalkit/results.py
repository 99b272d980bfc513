"""Result files: OUT/results.json (metrics, protocol, scorers, model, versions) and OUT/samples/<task>.jsonl.

Files are written whole to a temporary name and renamed, so a killed run never leaves a partial
file that looks complete.
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.runner import TaskRun
from evalkit.task import TaskGroup, group_tasks
from evalkit.version import __version__


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null rather than producing an unreadable file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def versions() -> dict[str, str]:
    import torch
    found = {"evalkit": __version__, "python": platform.python_version(), "torch": torch.__version__}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        if commit:
            found["evalkit_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def task_results(run: TaskRun) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, value in run.metrics.items():
        entry[key] = value
        if key in run.stderr:
            entry[key + "_stderr"] = run.stderr[key]
    entry["n"] = len(run.samples)
    if run.documents_total is not None:
        entry["n_total"] = run.documents_total  # n < n_total: --limit cut the benchmark short
    for group, count in group_counts(run.samples).items():
        entry[f"n_{group}"] = count  # the documents behind <metric>_<group>
    return entry


def group_counts(samples: list) -> dict[str, int]:
    """Documents per group the task reports (SampleResult.groups), in order of first appearance."""
    counts: dict[str, int] = {}
    for sample in samples:
        for group in dict.fromkeys(sample.groups):
            if group == "total":
                raise ValueError("a task group may not be named 'total' (n_total counts the benchmark)")
            counts[group] = counts.get(group, 0) + 1
    return counts


def write_samples(out_dir: Path, run: TaskRun) -> None:
    lines = []
    for sample in run.samples:
        record = {"doc_id": sample.doc_id, **({"doc_hash": sample.doc_hash} if sample.doc_hash else {}),
                  "prompt": sample.prompt, "target": sample.target, "prediction": sample.prediction,
                  "metrics": sample.metrics, **({"groups": list(sample.groups)} if sample.groups else {}),
                  **sample.extra}
        lines.append(json.dumps(_json_safe(record), ensure_ascii=False))
    atomic_write(out_dir / "samples" / f"{run.task.name}.jsonl", "\n".join(lines) + "\n")


def remove_other_tasks_files(out_dir: Path, task_names: list[str]) -> list[Path]:
    """A reused output folder never mixes runs: per-task files (samples/, generations/) of tasks that
    are not in this run describe a results.json that is being replaced, so they go."""
    keep = {f"{name}.jsonl" for name in task_names}
    stale = [path for folder in ("samples", "generations") for path in sorted((out_dir / folder).glob("*.jsonl"))
             if path.name not in keep]
    for path in stale:
        path.unlink()
    return stale


def task_protocol(run: TaskRun, options: dict[str, Any]) -> dict[str, Any]:
    """The task's protocol as run: its declaration, the shots its documents got, and the run options that
    applied to it and depart from its protocol (evalkit/run_options.py), which its report row names."""
    entry = run.task.protocol_dict()
    if run.shots_used is not None:
        entry["shots_used"] = run.shots_used
    entry["options"] = options
    return entry


def group_entries(groups: list[TaskGroup], entries: dict[str, dict[str, Any]], options: dict[str, dict[str, Any]],
                  incomplete: dict[str, str]) -> tuple[dict, dict, dict]:
    """Each group's results and protocol entries, from its tasks' entries (as lm-eval's `groups`), and
    why a group's numbers are not over all its documents (a task of it incomplete)."""
    results, protocols, short = {}, {}, {}
    for group in groups:
        names = [task.name for task in group_tasks(group)]
        results[group.name] = group.results(entries)
        merged = {key: value for name in names for key, value in options.get(name, {}).items()}
        protocols[group.name] = group.protocol_dict(entries) | {"options": merged}
        if cut := [name for name in names if name in incomplete]:
            short[group.name] = f"its task{'s' if len(cut) > 1 else ''} {', '.join(cut)} incomplete"
    return results, protocols, short


def _in_order(entries: dict[str, Any], groups: list[TaskGroup], own: dict[str, Any]) -> dict[str, Any]:
    """Task entries in run order, each group's entry just before its first task (lm-eval's table order)."""
    firsts = {}
    for group in groups:
        tasks = [task.name for task in group_tasks(group) if task.name in entries]
        firsts.setdefault(tasks[0] if tasks else None, []).append(group.name)
    ordered = {}
    for name, entry in entries.items():
        ordered.update({group: own[group] for group in firsts.get(name, [])})
        ordered[name] = entry
    return ordered | {group: own[group] for group in firsts.get(None, [])}


def results_document(runs: list[TaskRun], model: dict[str, Any], run_settings: dict[str, Any],
                     options: dict[str, dict[str, Any]] | None = None,
                     incomplete: dict[str, str] | None = None, groups: list[TaskGroup] = ()) -> dict[str, Any]:
    """`options`: per task, the run options applied to it (name -> value); `incomplete`: task -> why its
    headline metric is not over all its documents (written only when any); `groups`: the groups the tasks
    were asked for in (lm-eval's group files), each reported with an entry of its own in `results` and
    `protocol`, in `groups` and `group_subtasks` as lm-eval writes them (written only when any)."""
    entries = {run.task.name: task_results(run) for run in runs}
    own, protocols, short = group_entries(list(groups), entries, options or {}, incomplete or {})
    incomplete = {**(incomplete or {}), **short}
    return _json_safe({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # when the run finished, UTC
        **({"incomplete": incomplete} if incomplete else {}),
        "results": _in_order(entries, list(groups), own),
        **({"groups": own, "group_subtasks": {g.name: [m.name for m in g.members] for g in groups}} if groups else {}),
        "protocol": {run.task.name: task_protocol(run, (options or {}).get(run.task.name, {})) for run in runs}
        | protocols,
        "cost": {run.task.name: {"requests": run.num_requests, "seconds": round(run.seconds, 3),
                                 **{key: round(value, 3) if isinstance(value, float) else value
                                    for key, value in run.engine_stats.items()}} for run in runs},
        "scorers": {run.task.name: run.scorers for run in runs if run.scorers},
        "window": {run.task.name: run.window for run in runs if run.window is not None},
        "model": model,
        "run": run_settings,
        "versions": versions(),
    })


def write_results(out_dir: Path, document: dict[str, Any]) -> Path:
    path = out_dir / "results.json"
    atomic_write(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path
