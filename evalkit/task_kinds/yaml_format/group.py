"""lm-eval's group files run as one evalkit task: the members' documents one after the other, each
scored by its own task, and the group's numbers by `aggregate_metric_list` (each member's metric,
weighted by its documents with `weight_by_size`, else one vote per member), as lm-eval aggregates.

Results: the group's metrics under lm-eval's names (`acc`), and every member's (task or subgroup) as
`<metric>_<member>`; each sample names its member task in `task`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from evalkit.errors import UsageError
from evalkit.task import Answer, DataSource, RunContext, SampleResult, Task
from evalkit.task_kinds.yaml_format.config import from_mapping
from evalkit.task_kinds.yaml_format.reader import read_yaml
from evalkit.task_kinds.yaml_format.task import YamlTask


class GroupTask(Task):
    def __init__(self, name: str, path: Path, members: list, aggregate_metric_list: list[dict]):
        self.name, self.path, self.members, self.aggregate_metric_list = name, path, members, aggregate_metric_list
        self.protocol = members[0].protocol if members else None

    @classmethod
    def from_file(cls, path: Path, folder: Path, load: Callable[..., Any]) -> "GroupTask":
        """`load(name, folder, overrides)`: the catalogue's loader (catalogue.load), passed in because
        groups nest: the catalogue loads groups, and a group loads its members through the catalogue."""
        raw = read_yaml(path)
        members: list = []
        for entry in raw["task"]:
            if isinstance(entry, str):
                found = load(entry, folder)
            elif isinstance(entry, dict) and isinstance(entry.get("task"), str):
                overrides = {k: v for k, v in entry.items() if k != "task"}
                try:
                    found = load(entry["task"], folder, overrides)
                except UsageError:  # not a named task: an inline task config
                    found = YamlTask(from_mapping(entry, path))
            else:
                raise UsageError(f"{path}: key task: each entry is a task, group or tag name, or a task mapping")
            members += found if isinstance(found, list) else [found]
        for entry in raw.get("aggregate_metric_list") or []:
            if entry.get("aggregation", "mean") != "mean":
                raise UsageError(f"{path}: key aggregate_metric_list: aggregation {entry['aggregation']!r} "
                                 "(lm-eval groups aggregate by mean)")
        return cls(str(raw["group"]), path, members, list(raw.get("aggregate_metric_list") or []))

    def leaves(self) -> list[YamlTask]:
        return [leaf for m in self.members for leaf in (m.leaves() if isinstance(m, GroupTask) else [m])]

    def protocol_dict(self) -> dict:
        return {"task": self.name, "lm_eval": {"group": str(self.path)}, "members": [m.name for m in self.members],
                "aggregate_metric_list": self.aggregate_metric_list,
                "tasks": {leaf.name: leaf.protocol_dict() for leaf in self.leaves()},
                "headline_metric": self._keys()[0] if self._keys() else None}

    def _keys(self) -> list[str]:
        return [e["metric"] if e.get("filter_list", "none") == "none" else f"{e['metric']},{e['filter_list']}"
                for e in self.aggregate_metric_list]

    def settings(self) -> set[str]:
        return {"num_fewshot"}

    def configure(self, **settings: Any) -> None:
        for leaf in self.leaves():
            leaf.configure(**settings)

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        """Each member's first `limit` documents (lm-eval's --limit is per task), each as {task, doc_id, doc}."""
        return [{"task": index, "doc_id": i, "doc": doc} for index, leaf in enumerate(self.leaves())
                for i, doc in enumerate(leaf.docs(source, limit))]

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list:
        return self.leaves()[doc["task"]].requests(doc["doc"], doc["doc_id"], seed, context)

    def scorers(self) -> dict[str, dict]:
        """The members' scorers (an unsafe_code member's code_execution makes the group need the box)."""
        return {name: settings for leaf in self.leaves() for name, settings in leaf.scorers().items()}

    def scorer_inputs(self, scorer: str, doc: dict, answer: Answer) -> list:
        leaf = self.leaves()[doc["task"]]
        return leaf.scorer_inputs(scorer, doc["doc"], answer) if scorer in leaf.scorers() else []

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        leaf = self.leaves()[doc["task"]]
        sample = leaf.process(doc["doc"], doc["doc_id"], seed, answers)
        sample.doc_id, sample.extra = doc_id, {"task": leaf.name, "task_doc_id": doc["doc_id"], **sample.extra}
        return sample

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        found: dict[str, float] = {}
        own, _ = self._summary(self, samples, found)
        return own | found

    def _summary(self, node, samples: list[SampleResult], found: dict) -> tuple[dict[str, float], int]:
        if isinstance(node, YamlTask):
            mine = [s for s in samples if s.extra.get("task") == node.name]
            return (node.aggregate(mine) if mine else {}), len(mine)
        parts = [self._summary(m, samples, found) for m in node.members]
        for member, (values, _) in zip(node.members, parts):
            found.update({f"{key}_{member.name}": value for key, value in values.items()})
        own = {}
        for entry, key in zip(node.aggregate_metric_list, node._keys()):
            scored = [(values[key], size) for values, size in parts if key in values and size]
            if scored:
                weights = [size if entry.get("weight_by_size", False) else 1 for _, size in scored]
                own[key] = sum(v * w for (v, _), w in zip(scored, weights)) / sum(weights)
        return own, sum(size for _, size in parts)
