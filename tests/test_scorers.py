"""The scorer seam: judgements cached by (scorer, version, input) so a resumed run never judges again, and a
judgement that could not be made excludes its document (counted), never scores it as a failure."""
import gzip
import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from evalkit.backends.generations import GenerationsBackend
from evalkit.execution.box import ExecResult, Limits, Program
from evalkit.requests import GenerateRequest
from evalkit.runner import Caches, plan_task, run_task
from evalkit.scorers import SCORERS
from evalkit.scorers.base import Failed
from evalkit.scorers.code_execution import CodeExecution
from evalkit.scorers.judgement_cache import JudgementCache
from evalkit.task import DataSource, SampleResult, Task

from conftest import DATA_DIR, REPO, needs_data


@dataclass(frozen=True)
class Verdict:
    ok: bool


class Keyword:
    """A scorer whose service is "down" for some inputs: those get Failed, the others a verdict."""
    name, version, judgement_type = "keyword", "1", Verdict
    calls: list[list[str]] = []

    def input_key(self, text: str) -> str:
        return text

    def judge(self, texts: list[str]) -> list:
        Keyword.calls.append(list(texts))
        return [Failed("service down") if "down" in t else Verdict(t == "yes") for t in texts]

    def summary(self, judgements: list) -> dict:
        return {}


def load(settings, progress=True, desc=""):
    return Keyword()


class Echo(Task):
    """Each document asks one generation; its output is judged by the keyword scorer."""
    name = "echo"
    protocol = None

    def docs(self, source, limit=None):
        return [{"id": i} for i in range(4)]

    def requests(self, doc, doc_id, seed, context=None):
        return [GenerateRequest(f"document {doc_id}", n=2)]

    def scorers(self):
        return {"keyword": {}}

    def scorer_inputs(self, scorer, doc, answer):
        return list(answer.result.texts)

    def process(self, doc, doc_id, seed, answers):
        verdicts = answers[0].judgements["keyword"]
        return SampleResult(doc_id, answers[0].request.context, None, None,
                            {"ok": sum(v.ok for v in verdicts) / len(verdicts)})


@pytest.fixture
def keyword(monkeypatch):
    monkeypatch.setitem(SCORERS, "keyword", __name__)
    Keyword.calls = []


def test_cache_rows_are_per_scorer_version_and_input(tmp_path):
    cache = JudgementCache(tmp_path / "judgements.sqlite")
    scorer = Keyword()
    cache.put(scorer, [("yes", Verdict(True)), ("no", Verdict(False))])
    assert JudgementCache(tmp_path / "judgements.sqlite").get(scorer, ["yes", "no", "maybe"]) == \
        {"yes": Verdict(True), "no": Verdict(False)}
    newer = Keyword()
    newer.version = "2"
    assert cache.get(newer, ["yes"]) == {}


def test_code_execution_key_covers_the_limits():
    program = Program("def f():\n    return 1\n", "assert f() == 1", entry_points=("f",))
    assert CodeExecution(Limits(timeout_s=3.0)).input_key(program) != CodeExecution(Limits(timeout_s=5.0)).input_key(program)
    judged = CodeExecution(Limits(), progress=False).judge([program])
    assert isinstance(judged[0], ExecResult) and judged[0].passed


def test_failed_judgements_exclude_the_document_are_counted_and_retried(tmp_path, keyword):
    generations = tmp_path / "g.jsonl"
    completions = {"0": ["yes", "no"], "1": ["down", "yes"], "2": ["yes", "yes"], "3": ["no", "no"]}
    generations.write_text("".join(json.dumps({"task_id": k, "completions": v}) + "\n" for k, v in completions.items()))
    caches = Caches(judgements=JudgementCache(tmp_path / "judgements.sqlite"))
    backend = GenerationsBackend(generations)
    run = run_task(plan_task(Echo(), DataSource(), backend, 0, None), backend, caches, progress=False)
    assert [s.doc_id for s in run.samples] == [0, 2, 3]           # document 1 is left out, not scored 0
    assert run.shortfall().startswith("1 of 4 documents have no judgement (first: keyword: ")  # the run is incomplete
    assert run.metrics == {"ok": pytest.approx((0.5 + 1 + 0) / 3)}
    assert run.scorers == {"keyword": {"version": "1", "judged": 3, "from_cache": 0, "failed": 1},
                           "excluded_documents": 1}
    assert Keyword.calls == [["yes", "no", "down"]]               # distinct inputs, each judged once
    backend = GenerationsBackend(generations)
    again = run_task(plan_task(Echo(), DataSource(), backend, 0, None), backend, caches, progress=False)
    assert Keyword.calls[1] == ["down"]                            # only the failed one is asked again
    assert again.scorers["keyword"] == {"version": "1", "judged": 1, "from_cache": 2, "failed": 1}
    assert again.metrics == run.metrics


@needs_data
def test_a_resumed_run_never_executes_a_program_again(tmp_path):
    with gzip.open(DATA_DIR / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:3]
    generations = tmp_path / "gen.jsonl"
    generations.write_text("".join(json.dumps({"task_id": p["task_id"], "completions": [p["canonical_solution"],
                                                                                       "    return None\n"]}) + "\n"
                                   for p in problems))
    out = tmp_path / "out"

    def run():
        proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", "--tasks", "humaneval",
                               "--data-dir", str(DATA_DIR), "--limit", "3", "--allow-code-execution", "--n-samples", "1",
                               "--load-generations", str(generations), "--output-dir", str(out)],
                              capture_output=True, text=True, cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return json.loads((out / "results.json").read_text())

    first, second = run(), run()
    assert first["scorers"]["humaneval"]["code_execution"]["judged"] == 6
    assert (second["scorers"]["humaneval"]["code_execution"]["judged"],
            second["scorers"]["humaneval"]["code_execution"]["from_cache"]) == (0, 6)
    assert second["results"] == first["results"] and first["results"]["humaneval"]["pass@1"] == 1.0
    assert second["scorers"]["humaneval"]["code_execution"]["isolation"] == \
        first["scorers"]["humaneval"]["code_execution"]["isolation"]


class Interrupted(Keyword):
    """A keyword scorer whose run is interrupted (Ctrl-C) in its second batch while `armed`."""
    name, armed = "interrupted", True

    def judge(self, texts):
        if Interrupted.armed and Keyword.calls:
            raise KeyboardInterrupt
        return super().judge(texts)


def test_an_interrupted_stage_keeps_the_chunks_it_judged(tmp_path, monkeypatch):
    from evalkit.scorers import stage
    monkeypatch.setattr(stage, "BATCH", 3)
    Keyword.calls = []
    cache = JudgementCache(tmp_path / "judgements.sqlite")
    items = [f"text {i}" for i in range(7)]
    with pytest.raises(KeyboardInterrupt):
        stage._judge(Interrupted(), items, cache, {"judged": 0, "from_cache": 0})
    assert set(cache.get(Interrupted(), items)) == set(items[:3])
    Keyword.calls, Interrupted.armed = [], False
    counts = {"judged": 0, "from_cache": 0}
    verdicts = stage._judge(Interrupted(), items, cache, counts)
    assert counts == {"judged": 4, "from_cache": 3} and [v.ok for v in verdicts] == [False] * 7
    assert Keyword.calls == [items[3:6], items[6:]]
