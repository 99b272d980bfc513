"""Registry, suites, protocol records, and the shipped example documents of every task."""
import json

import pytest

from evalkit.errors import DataError, UsageError
from evalkit.prompts import PROMPTS_DIR
from evalkit.scorers import runs_untrusted_code
from evalkit.task import DataSource
from evalkit.task_kinds.generation import GenerationTask
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
    expected = {"crows_pairs": "loglikelihood_rolling"}.get(name, "multiple_choice")
    generates = runs_untrusted_code(task) or isinstance(task, GenerationTask) or name.startswith(
        ("realtoxicityprompts", "truthfulqa_gen"))
    assert task.output_type == ("generate_until" if generates else expected)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_examples_load_offline_and_build_requests(name):
    task = get_task(name)
    docs = task.docs(DataSource(examples=True))
    assert 3 <= len(docs) <= 6
    if name.endswith("_64shot"):  # the example files hold fewer shots: refused, never silently fewer
        with pytest.raises(DataError, match="64 shots asked"):
            task.requests(docs[0], 0, seed=0)
        return
    for doc_id, doc in enumerate(docs):
        requests = task.requests(doc, doc_id, seed=0)
        if runs_untrusted_code(task):  # n samples at each of the two temperatures
            assert [r.temperature for r in requests] == [0.1, 0.8]
        elif isinstance(task, GenerationTask):  # one request: greedy, or the k samples of maj1@k
            assert [(r.n, r.temperature) for r in requests] == [(task.protocol.n, task.protocol.temperature)]
        else:  # one request per choice (CrowS-Pairs: per sentence; RealToxicityPrompts: one generation)
            assert len(requests) >= len(doc.get("choices", [0]))


def test_one_class_under_several_names_with_settings(monkeypatch):
    import tasks
    monkeypatch.setitem(tasks.TASKS, "mmlu_1shot", ("mmlu:MMLU", {"num_fewshot": 1}))
    monkeypatch.setitem(tasks.TASKS, "humaneval_n3", ("humaneval:HumanEval", {"n": 3, "timeout_s": 5.0}))
    one, five = get_task("mmlu_1shot"), get_task("mmlu")
    assert (one.name, one.protocol.num_fewshot, five.protocol.num_fewshot) == ("mmlu_1shot", 1, 5)
    doc = one.docs(DataSource(examples=True))[3]  # its subject's dev split holds two shots
    assert five.docs(DataSource(examples=True))[3] == doc
    assert one.requests(doc, 3, seed=0)[0].context.count("\nAnswer: ") == 1
    assert five.requests(doc, 3, seed=0)[0].context.count("\nAnswer: ") == 2
    code = get_task("humaneval_n3")
    assert code.protocol_dict()["task"] == "humaneval_n3" and code.protocol.n == 3
    assert code.scorers() == {"code_execution": {"timeout_s": 5.0}}


def test_bad_registered_settings_are_usage_errors(monkeypatch):
    import tasks
    monkeypatch.setitem(tasks.TASKS, "boolq_typo", ("boolq:BoolQ", {"num_fewshots": 1}))
    monkeypatch.setitem(tasks.TASKS, "race_5shot", ("race:RACEMiddle", {"num_fewshot": 5}))
    with pytest.raises(UsageError, match="boolq_typo: no protocol setting num_fewshots"):
        get_task("boolq_typo")
    with pytest.raises(UsageError, match="race_5shot: 5 shots asked, but the task declares no few-shot split"):
        get_task("race_5shot")


def test_suites_are_the_report_tables():
    from evalkit.report.paper import load_tables
    tables = {f"table{t.number}": list(dict.fromkeys(c.task for c in t.columns)) for t in load_tables()}
    found = suites()
    assert found["table3"] == tables["table3"] == ["boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy",
                                                   "arc_challenge", "openbookqa"]
    assert found["table8"] == ["humaneval", "mbpp"] and found["table9"] == ["mmlu"]
    # a table is a suite once all its tasks are registered
    assert all(found[name] == tables[name] and all(t in TASK_NAMES for t in found[name])
               for name in found if name not in ("paper", "ci"))
    assert {name for name, names in tables.items() if all(t in TASK_NAMES for t in names)} == set(found) - {"paper", "ci"}


def test_paper_suite_is_every_table_of_the_paper():
    found = suites()
    assert [f"table{n}" for n in range(3, 15)] == [name for name in found if name.startswith("table")]
    paper = found["paper"]
    assert len(paper) == len(set(paper)) and set(paper) == set(TASK_NAMES)
    assert all(name in paper for n in range(3, 15) for name in found[f"table{n}"])
