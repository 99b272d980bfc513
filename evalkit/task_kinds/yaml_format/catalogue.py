"""A folder of lm-eval task files (`run --include-path DIR`, lm-eval's --include_path): which file
defines each task, group and tag, and the Task a name stands for.

Files are indexed by their keys (with includes, without importing `!function`s): a mapping with a
string `task` is a task, with `group` and a `task` list a group, and `tag` puts a task in a tag (a tag
runs its tasks one by one; so does a group, which adds an entry with lm-eval's aggregates). Other files
(templates without `task`, Python-class tasks) are skipped here and refused when named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from evalkit.errors import UsageError
from evalkit.task_kinds.yaml_format.config import from_mapping
from evalkit.task_kinds.yaml_format.reader import read_yaml


@dataclass
class Catalogue:
    tasks: dict[str, Path] = field(default_factory=dict)
    groups: dict[str, Path] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted({*self.tasks, *self.groups, *self.tags})


def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if "__pycache__" not in p.parts)


@cache
def catalogue(folder: Path) -> Catalogue:
    if not folder.is_dir():
        raise UsageError(f"--include-path {folder}: no such folder")
    found = Catalogue()
    for path in yaml_files(folder):
        try:
            raw = read_yaml(path, resolve_functions=False)
        except UsageError:
            continue  # a broken file stops the run only when a task in it is asked for
        if isinstance(raw.get("task"), list) and "group" in raw:
            found.groups.setdefault(str(raw["group"]), path)
        elif isinstance(raw.get("task"), str):
            found.tasks.setdefault(raw["task"], path)
            tags = raw.get("tag") or []
            for tag in [tags] if isinstance(tags, str) else tags:
                found.tags.setdefault(tag, []).append(raw["task"])
    return found


def load(name: str, folder: Path, overrides: dict | None = None):
    """The Task (or GroupTask) `name` stands for in `folder`; a tag gives its tasks (a list)."""
    from evalkit.task_kinds.yaml_format.group import GroupTask
    from evalkit.task_kinds.yaml_format.task import YamlTask

    index = catalogue(folder)
    if name in index.tasks:
        path = index.tasks[name]
        return YamlTask(from_mapping(read_yaml(path) | (overrides or {}), path))
    if name in index.groups:
        return GroupTask.from_file(index.groups[name], folder, load)
    if name in index.tags:
        return [load(task, folder, overrides) for task in index.tags[name]]
    raise UsageError(f"--include-path {folder}: no task, group or tag named {name!r}")
