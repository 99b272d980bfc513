"""lm-eval's group files, reported as lm-eval 0.4.13 reports them (lm_eval/api/group.py `Group.aggregate`).

Each task a group holds runs as a task of its own (its own documents, shots, prompt hash, samples file and
results entry). The group's entry aggregates each `aggregate_metric_list` metric over every task it holds,
through its subgroups: the tasks' values weighted by their documents (`weight_by_size`, lm-eval 0.4.13's
default), else one vote per task; the standard error pooled (lm-eval's `pooled_sample_stderr`), else that
of an unweighted mean (`unweighted_mean_stderr`). An entry without `filter_list` takes every filter its
tasks report the metric under (lm-eval's discovery; evalkit's `acc` is filter "none"). A subgroup gets
its own entry by its own aggregate_metric_list.
"""
from __future__ import annotations

import math
from numbers import Real
from pathlib import Path
from typing import Any, Callable, Mapping

from evalkit.errors import UsageError
from evalkit.task import TaskGroup, group_tasks
from evalkit.task_kinds.yaml_format.config import from_mapping
from evalkit.task_kinds.yaml_format.reader import read_yaml
from evalkit.task_kinds.yaml_format.task import YamlTask


class GroupTask(TaskGroup):
    def __init__(self, name: str, path: Path, members: list, aggregate_metric_list: list[dict],
                 alias: str | None = None):
        self.name, self.path, self.members, self.alias = name, path, members, alias
        self.aggregate_metric_list = aggregate_metric_list

    @classmethod
    def from_file(cls, path: Path, folder: Path, load: Callable[..., Any]) -> "GroupTask":
        """`load(name, folder, overrides)`: the catalogue's loader (catalogue.load), passed in because
        groups nest: the catalogue loads groups, and a group loads its members through the catalogue."""
        return cls.from_mapping(read_yaml(path), path, folder, load)

    @classmethod
    def from_mapping(cls, raw: dict, path: Path, folder: Path, load: Callable[..., Any]) -> "GroupTask":
        members: list = []
        entries = raw["task"] if isinstance(raw["task"], list) else [raw["task"]]
        for entry in entries:
            if isinstance(entry, str):
                found = load(entry, folder)
            elif isinstance(entry, dict) and "group" in entry and entry.get("task") is not None:
                found = cls.from_mapping(entry, path, folder, load)  # a group written inline
            elif isinstance(entry, dict) and isinstance(entry.get("task"), str):
                overrides = {k: v for k, v in entry.items() if k != "task"}
                try:
                    found = load(entry["task"], folder, overrides)
                except UsageError:  # not a named task: an inline task config
                    found = YamlTask(from_mapping(entry, path))
            else:
                raise UsageError(f"{path}: key task: each entry is a task, group or tag name, or a task mapping")
            members += found if isinstance(found, list) else [found]
        return cls(str(raw["group"]), path, members, _aggregate_metric_list(raw.get("aggregate_metric_list"), path),
                   raw.get("group_alias"))

    def protocol_dict(self, entries: Mapping[str, dict[str, Any]] | None = None) -> dict:
        own = self.results(entries or {})
        metrics = [key for key in own if key not in ("n", "n_total") and not key.endswith("_stderr")]
        return {"task": self.name, "lm_eval": {"group": str(self.path), "group_alias": self.alias},
                "members": [m.name for m in self.members], "aggregate_metric_list": self.aggregate_metric_list,
                "headline_metric": metrics[0] if metrics else None}

    def results(self, entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        leaves = [entries[task.name] for task in group_tasks(self) if task.name in entries]
        found: dict[str, Any] = {}
        for spec in self.aggregate_metric_list:
            for name in spec["filter_list"] or _filters(spec["metric"], leaves):
                key = spec["metric"] if name == "none" else f"{spec['metric']},{name}"
                scored = [e for e in leaves if isinstance(e.get(key), Real)]
                if not scored:
                    continue
                sizes = [e["n"] for e in scored]
                weights = sizes if spec["weight_by_size"] else [1] * len(scored)
                found[key] = sum(e[key] * w for e, w in zip(scored, weights)) / sum(weights)
                stderrs = [e.get(f"{key}_stderr") for e in scored]
                if all(isinstance(s, Real) for s in stderrs):
                    found[f"{key}_stderr"] = pooled_stderr(stderrs, sizes) if spec["weight_by_size"] else \
                        math.sqrt(sum(s * s for s in stderrs)) / len(stderrs)
        found["n"] = sum(e["n"] for e in leaves)
        if leaves and all("n_total" in e for e in leaves):
            found["n_total"] = sum(e["n_total"] for e in leaves)
        return found


def pooled_stderr(stderrs: list[float], sizes: list[int]) -> float:
    """lm-eval's pooled_sample_stderr: the standard error of the mean over all the tasks' documents."""
    if sum(sizes) <= len(sizes):
        return math.nan
    variance = sum((n - 1) * s * s * n for s, n in zip(stderrs, sizes)) / (sum(sizes) - len(sizes))
    return math.sqrt(variance / sum(sizes))


def _filters(metric: str, leaves: list[dict[str, Any]]) -> list[str]:
    """The filters the tasks report `metric` under, sorted (lm-eval's `_discover_filters_for_metric`)."""
    found = {"none" for e in leaves if metric in e}
    found |= {key[len(metric) + 1:] for e in leaves for key in e
              if key.startswith(metric + ",") and not key.endswith("_stderr")}
    return sorted(found)


def _aggregate_metric_list(given: Any, path: Path) -> list[dict]:
    """lm-eval's AggMetricConfig entries: metric, filter_list (None: discovered), mean, weight_by_size."""
    found = []
    for entry in [given] if isinstance(given, dict) else given or []:
        if not isinstance(entry, dict) or "metric" not in entry:
            raise UsageError(f"{path}: key aggregate_metric_list: an entry without 'metric'")
        if entry.get("aggregation", "mean") != "mean":
            raise UsageError(f"{path}: key aggregate_metric_list: aggregation {entry['aggregation']!r} "
                             "(lm-eval groups aggregate by mean)")
        filters = entry.get("filter_list")
        found.append({"metric": entry["metric"], "filter_list": [filters] if isinstance(filters, str) else filters,
                      "aggregation": "mean", "weight_by_size": bool(entry.get("weight_by_size", True))})
    return found
