"""Registry, suites, protocol records, and the shipped example documents of every task."""
import json

import pytest

from evalkit.errors import UsageError
from evalkit.prompts import PROMPTS_DIR
from evalkit.task import DataSource
from evalkit.scorers import runs_untrusted_code
from tasks import TASK_NAMES, get_task, resolve_tasks, suites


def test_unknown_task_lists_known_names():
    with pytest.raises(UsageError, match="known tasks: boolq, piqa"):
        get_task("boolqq")


def test_resolve_suites_names_and_repeats():
    assert [t.name for t in resolve_tasks("table6,boolq, race_high")] == ["race_middle", "race_high", "boolq"]
    assert [t.name for t in resolve_tasks("table9")] == ["mmlu"]
    assert set(suites()["ci"]) == set(TASK_NAMES)
    with pytest.raises(UsageError):
        resolve_tasks(" , ")


@pytest.mark.parametrize("name", TASK_NAMES)
def test_protocol_dict_is_json_and_hashes_the_template(name):
    import hashlib
    task = get_task(name)
    record = json.loads(json.dumps(task.protocol_dict()))
    template_text = (PROMPTS_DIR / task.protocol.template).read_text(encoding="utf-8")
    assert record["prompt_hash"] == hashlib.sha256(template_text.encode()).hexdigest()
    assert record["task"] == name and record["paper_table"] and record["paper_column"]
    assert record["headline_metric"] in record["metrics"]
    assert task.output_type == ("generate_until" if runs_untrusted_code(task) else "multiple_choice")


@pytest.mark.parametrize("name", TASK_NAMES)
def test_examples_load_offline_and_build_requests(name):
    task = get_task(name)
    docs = task.docs(DataSource(examples=True))
    assert 3 <= len(docs) <= 6
    for doc_id, doc in enumerate(docs):
        requests = task.requests(doc, doc_id, seed=0)
        if runs_untrusted_code(task):  # n samples at each of the two temperatures
            assert [r.temperature for r in requests] == [0.1, 0.8]
        else:
            assert len(requests) >= len(doc["choices"])
