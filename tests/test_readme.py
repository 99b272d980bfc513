"""The README documents every key a YAML task accepts, and the example task it names exists and loads."""
from __future__ import annotations

import dataclasses

from conftest import REPO
from evalkit.task import DataSource
from evalkit.task_kinds.yaml_task import YamlConfig
from tasks import get_task

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_yaml_key_is_documented():
    section = README.split("### User tasks (YAML)")[1].split("\n## ")[0]
    for key in (f.name for f in dataclasses.fields(YamlConfig) if f.name != "path"):
        assert f"| `{key}` |" in section, f"README does not document the YAML key {key}"


def test_the_example_task_ships_with_its_data():
    assert "examples/capitals/capitals.yaml" in README
    task = get_task(str(REPO / "examples" / "capitals" / "capitals.yaml"))
    docs = task.docs(DataSource())
    assert task.name == "capitals" and len(docs) == 6 and task.protocol.num_fewshot == 1
    assert "\n\n" in task.requests(docs[0], 0, seed=1234)[0].context  # its shot, from the train file
