"""User tasks in lm-eval's YAML format, by path (`--tasks path/to/task.yaml`) or by name from a folder
(`--include-path DIR --tasks name`). The format's pieces live in evalkit/task_kinds/yaml_format/.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import UsageError
from evalkit.task import Task, TaskGroup
from evalkit.task_kinds.yaml_format.config import YamlConfig, from_mapping
from evalkit.task_kinds.yaml_format.reader import read_yaml

__all__ = ["YamlConfig", "load_yaml_task", "load_from_folder"]


def load_yaml_task(path: Path) -> Task | TaskGroup:
    """The task (or group) a YAML file defines; a group's members are looked up in the file's folder."""
    from evalkit.task_kinds.yaml_format.group import GroupTask
    from evalkit.task_kinds.yaml_format.task import YamlTask

    raw = read_yaml(path)
    if "group" in raw and isinstance(raw.get("task"), list):
        return GroupTask.from_file(path, path.parent, load)
    return YamlTask(from_mapping(raw, path))


def load_from_folder(name: str, folder: Path) -> list[Task | TaskGroup]:
    """The tasks `name` stands for in an --include-path folder: one task or group, or a tag's tasks."""
    from evalkit.task_kinds.yaml_format.catalogue import load

    found = load(name, folder)
    if isinstance(found, list) and not found:
        raise UsageError(f"--include-path {folder}: tag {name!r} has no tasks")
    return found if isinstance(found, list) else [found]
