"""--num-fewshot on the Table 3 tasks: shots from each benchmark's train split, never from the evaluation
split; the paper's protocol stays zero-shot by default."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from evalkit.task import DataSource
from tasks import get_task, suites

TRAIN_MARKS = {"boolq": "Spiders are arachnids", "piqa": "stuck jar lid", "siqa": "returned it to its owner",
               "hellaswag": "stack of plates", "winogrande": "tilted", "arc_easy": "frozen water",
               "arc_challenge": "liquid water into water vapor", "openbookqa": "thermometer"}


@pytest.mark.parametrize("name", suites()["table3"])
def test_shots_come_from_the_train_split(name):
    task = get_task(name)
    assert task.protocol.num_fewshot == 0 and task.protocol.fewshot_hub.split == "train"
    docs = task.docs(DataSource(examples=True))
    zero_shot = task.requests(docs[0], 0, seed=1234)[0].context
    task.protocol = type(task.protocol)(**{**task.protocol.__dict__, "num_fewshot": 3})
    context = task.requests(docs[0], 0, seed=1234)[0].context
    assert context.endswith(zero_shot) and context.count("\n\n") >= 3
    pool = task.fewshot_pool()
    assert len(pool) == 3 and all(example not in docs for example in pool)
    assert TRAIN_MARKS[name] in context


def test_run_with_num_fewshot_records_and_labels_it(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--tasks",
                           "piqa,winogrande", "--examples", "--num-fewshot", "2", "--no-progress", "--output-dir",
                           str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["protocol"]["piqa"]["num_fewshot"] == 2
    sample = json.loads((tmp_path / "samples" / "winogrande.jsonl").read_text().splitlines()[0])
    assert sample["prompt"].count("\n\n") == 2
    assert "2-shot" in (tmp_path / "report.md").read_text()


def test_more_shots_than_the_split_holds_is_an_error_not_fewer_shots(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--tasks", "piqa",
                           "--examples", "--num-fewshot", "5", "--no-progress", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2 and "5 shots asked, but the few-shot split has only 3" in proc.stderr
