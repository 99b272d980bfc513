"""HumanEval and MBPP as tasks: data, prompts, requests, scoring with pass@k, generations files."""
import dataclasses

import pytest

from evalkit.errors import DataError
from evalkit.generations_file import load_generations, save_generations
from evalkit.requests import GenerateResult
from evalkit.scorers import runs_untrusted_code
from evalkit.scorers.stage import judge_answers
from evalkit.task import Answer, DataSource
from tasks import get_task, resolve_tasks
from tasks.humaneval import HumanEval
from tasks.mbpp import MBPP

from conftest import DATA_DIR

EXAMPLES = DataSource(examples=True)


def test_registry_and_suite():
    assert [t.name for t in resolve_tasks("table8")] == ["humaneval", "mbpp"]
    assert runs_untrusted_code(get_task("humaneval")) and runs_untrusted_code(get_task("mbpp"))
    assert not runs_untrusted_code(get_task("boolq"))


def score(task, docs, completions):
    """Each document's two requests answered with the given completions, judged in the box, then processed."""
    answers = [[Answer(r, GenerateResult(texts)) for r, texts in zip(task.requests(doc, i, 0), pair, strict=True)]
               for i, (doc, pair) in enumerate(zip(docs, completions))]
    judged = judge_answers(task, docs, answers, None, progress=False)
    assert judged.failed == {} and judged.record["code_execution"]["judged"] > 0
    return [task.process(doc, i, 0, a) for i, (doc, a) in enumerate(zip(docs, judged.answers))]


def test_humaneval_requests_follow_the_protocol():
    task = HumanEval(n=3)
    doc = task.docs(EXAMPLES)[0]
    greedy, sampled = task.requests(doc, 0, seed=7)
    assert greedy.context == doc["prompt"]
    assert greedy.until == ("\ndef", "\nclass", "\nif", "\nprint", "\n#")
    assert (greedy.temperature, sampled.temperature, greedy.top_p, greedy.n, greedy.seed) == (0.1, 0.8, 0.95, 3, 7)
    assert task.protocol_dict()["n"] == 3


def test_mbpp_prompt_has_the_three_shots_of_austin_et_al():
    task = MBPP()
    docs = task.docs(EXAMPLES)
    assert [d["task_id"] for d in docs] == [11, 12, 13]
    context = task.requests(docs[0], 0, 0)[0].context
    assert context.count("You are an expert Python programmer, and here is your task: ") == 4
    assert context.count("[DONE]") == 3 and context.endswith("[BEGIN]\n")
    assert "def larger(a, b):\n  return a if a > b else b\n[DONE]" in context  # CRLF became LF
    assert task.requests(docs[0], 0, 0)[0].until == ("[DONE]",)


@pytest.mark.skipif(not (DATA_DIR / "mbpp").exists(), reason="needs ../shared/data")
def test_mbpp_real_prompt_starts_with_task_2():
    task = MBPP()
    docs = task.docs(DataSource(data_dir=DATA_DIR), limit=2)
    assert [d["task_id"] for d in docs] == [11, 12]
    context = task.context(docs[0], 0, 0)
    assert context.startswith("You are an expert Python programmer, and here is your task: Write a function to "
                              "find the similar elements from the given two tuple lists. Your code should pass "
                              "these tests:\n\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n")
    assert "\r" not in context


def test_scoring_small_n_reports_pass_at_1_only():
    task = HumanEval(n=2)
    docs = task.docs(EXAMPLES, limit=2)
    right = [d["canonical_solution"] for d in docs]
    samples = score(task, docs, [((right[0], "    return None\n"), (right[0], right[0])),
                                 (("    return -1\n", "    return -1\n"), (right[1], "x"))])
    assert samples[0].extra["passed"] == [True, False, True, True]
    assert samples[1].extra["passed"] == [False, False, True, False]
    assert samples[1].extra["reasons"][0] == "assertion: AssertionError"
    assert samples[1].extra["task_id"] == "Example/1" and samples[0].metrics == {"pass@1": 0.5}
    assert task.aggregate(samples) == {"pass@1": 0.25}  # no pass@100 from 2 samples


def test_scoring_reports_pass_at_k_when_every_problem_has_k_samples():
    task = MBPP(n=3)
    task.protocol = dataclasses.replace(task.protocol, k=2)
    docs = task.docs(EXAMPLES)
    metrics = task.aggregate(score(task, docs, [((d["code"], "pass", "pass"), ("pass", "pass", d["code"]))
                                                for d in docs]))
    assert metrics == pytest.approx({"pass@1": 1 / 3, "pass@2": 1 - 1 / 3})


def test_generations_round_trip(tmp_path):
    path = tmp_path / "gen.jsonl"
    save_generations(path, "humaneval", {"HumanEval/0": ["a", "b"], "HumanEval/1": []})
    loaded = load_generations(path)
    assert (loaded.task, loaded.completions) == ("humaneval", {"HumanEval/0": ["a", "b"], "HumanEval/1": []})


@pytest.mark.parametrize("line, message", [
    ("not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"completions": ["a"]}', "task_id"),
    ('{"task_id": "x", "completions": "a"}', "completions"),
    ('{"task_id": "x", "completions": [1]}', "completions"),
    ('{"task": "mbpp", "task_id": "x", "completions": []}', "field 'task' is 'mbpp' where the first line's is None"),
])
def test_malformed_generations_are_data_errors(tmp_path, line, message):
    path = tmp_path / "gen.jsonl"
    path.write_text('{"task_id": "ok", "completions": []}\n' + line + "\n")
    with pytest.raises(DataError, match=f"gen.jsonl:2: .*{message}"):
        load_generations(path)
