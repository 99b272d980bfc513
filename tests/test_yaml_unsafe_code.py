"""lm-eval task files with `unsafe_code: true`: their programs run only in evalkit's box with
--allow-code-execution, judged by HF evaluate code_eval's rule, and the code_eval wrapper is never called.

The candidates are known texts (--load-generations); the wrappers are the fixture's (tests/fixtures/
lm_eval_unsafe/utils.py, whose stand-in for code_eval raises if called) and lm-eval's own humaneval and
mbpp utils.py, imported against a code_eval of this test's own that raises too.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA_DIR, REPO, needs_data
from evalkit.errors import UsageError
from tasks import get_task

FIXTURE = REPO / "tests" / "fixtures" / "lm_eval_unsafe"
STOCK = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" \
    / "lm_eval" / "tasks"
needs_lm_eval = pytest.mark.skipif(not STOCK.is_dir(), reason="lm-eval's task files are not installed")

PROBLEMS = [{"prompt": "def add(a, b):\n", "entry_point": "add",
             "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"},
            {"prompt": "def double(x):\n", "entry_point": "double",
             "test": "def check(candidate):\n    assert candidate(4) == 8\n"}]


def hostile_outside(path):
    """Writes on the host and leaves a thread that would write later, then answers correctly."""
    return (f"    import threading, time\n    try:\n        open({str(path)!r}, 'w').write('x')\n"
            f"    except OSError:\n        pass\n"
            f"    threading.Thread(target=lambda: (time.sleep(60), open({str(path)!r}, 'w'))).start()\n"
            f"    return 2 * x\n")


KILLS_PARENT = "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 2 * x\n"


def write_generations(path, task, completions):
    path.write_text("".join(json.dumps({"task": task, "task_id": str(i), "completions": texts}) + "\n"
                            for i, texts in enumerate(completions)))


def run(cwd, *args, env=None):
    """The run command from `cwd`; returns (process, the pid that named its boxes)."""
    proc = subprocess.Popen([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"HF_DATASETS_CACHE": str(Path(cwd) / "hf_cache"), **(env or {})})
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


def boxes_left(pid):
    """Processes still carrying the run's box mark (evalkit/execution/box.py MARK)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"evalkit-box-{pid}".encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


@pytest.fixture
def tiny_code(tmp_path):
    for name in ("tiny_code.yaml", "utils.py", "code_group.yaml"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    return tmp_path


def test_without_allow_code_execution_the_task_is_refused_before_any_work(tiny_code):
    proc, _ = run(tiny_code, "--model", "/no/such/model", "--tasks", "tiny_code.yaml", "--output-dir", "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "tiny_code run model-generated code; pass --allow-code-execution" in proc.stderr
    assert not (tiny_code / "out").exists()


def test_programs_are_judged_in_the_box_by_code_eval_rule(tiny_code):
    """Correct passes, wrong fails, a loop times out; hostile candidates change no other verdict,
    write nothing on the host and leave no process behind. The wrapper itself would raise if called."""
    outside = tiny_code / "written_by_a_candidate"
    completions = [["    return a + b\n", "    return a * b\n", "    while True:\n        pass\n"],
                   [KILLS_PARENT, "    return 2 * x\n", hostile_outside(outside)]]
    write_generations(tiny_code / "gen.jsonl", "tiny_code", completions)
    proc, pid = run(tiny_code, "--tasks", "tiny_code.yaml", "--allow-code-execution", "--load-generations",
                    "gen.jsonl", "--output-dir", "out")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tiny_code / "out" / "results.json").read_text())
    samples = [json.loads(line) for line in (tiny_code / "out" / "samples" / "tiny_code.jsonl").open()]
    verdicts = [s["code_eval"]["pass_at_k,create_test"] for s in samples]
    assert [v["passed"] for v in verdicts] == [[True, False, False], [False, True, True]]
    assert verdicts[0]["reasons"][1].startswith("assertion") and verdicts[0]["reasons"][2].startswith("timeout")
    # pass@k per problem by the unbiased estimator (n = 3), then the mean: lm-eval's names, filter included
    assert results["results"]["tiny_code"]["pass@1,create_test"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert results["results"]["tiny_code"]["pass@2,create_test"] == pytest.approx((2 / 3 + 1) / 2)
    assert results["protocol"]["tiny_code"]["headline_metric"] == "pass@1,create_test"
    assert results["protocol"]["tiny_code"]["lm_eval"]["code_eval"]["metrics"]["pass_at_k"] == {"k": [1, 2],
                                                                                                "timeout_s": 3.0}
    isolation = results["scorers"]["tiny_code"]["code_execution"]["isolation"]
    assert samples[0]["isolation"] == isolation and "verdict outside the candidate" in isolation[0]
    assert f"tiny_code: code execution isolation: {isolation[0]}" in (tiny_code / "out" / "report.md").read_text()
    assert not outside.exists() and boxes_left(pid) == []


def test_a_group_of_unsafe_tasks_needs_the_box_and_gets_its_members_verdicts(tiny_code):
    refused, _ = run(tiny_code, "--include-path", ".", "--tasks", "code_group", "--output-dir", "out")
    assert refused.returncode == 2 and "tiny_code run model-generated code" in refused.stderr  # the group's task
    write_generations(tiny_code / "gen.jsonl", "tiny_code",
                      [["    return a + b\n", "    return a - b\n", "    return b - a\n"], ["    return 2 * x\n"] * 3])
    proc, _ = run(tiny_code, "--include-path", ".", "--tasks", "code_group", "--allow-code-execution",
                  "--load-generations", "gen.jsonl", "--output-dir", "out")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tiny_code / "out" / "results.json").read_text())["results"]
    assert results["code_group"]["pass@1,create_test"] == results["tiny_code"]["pass@1,create_test"] \
        == pytest.approx((1 / 3 + 1) / 2)


def test_recognised_wrappers_and_refusals_name_file_and_key(tiny_code):
    from evalkit.task_kinds.yaml_format.code_eval import CodeEval

    task_file = tiny_code / "tiny_code.yaml"
    text = task_file.read_text()
    cases = {  # what a task file says -> the line evalkit refuses it with
        text.replace("k: [1, 2]", "k: [0]"): "key metric_list: pass_at_k of an unsafe_code task: option k",
        text.replace("unsafe_code: true", "unsafe_code: false"): "key unsafe_code: not true, but metric pass_at_k",
        text + "process_results: !function utils.build_predictions\n": "key process_results: an unsafe_code task's",
        text.replace("utils.pass_at_k", "utils.build_predictions"):
            "key metric_list: build_predictions of an unsafe_code task is not a wrapper of HF evaluate's code_eval",
    }
    for written, line in cases.items():
        task_file.write_text(written)
        with pytest.raises(UsageError, match="^" + re.escape(f"{task_file}: {line}")):
            get_task(str(task_file))
    assert CodeEval("pass_at_1", (1,), "pass@1").items([True, False]) == {"pass_at_1": 0.5}


def test_the_reference_reaches_the_candidates_names_and_the_builtins_it_redefines():
    from evalkit.task_kinds.yaml_format.code_eval import entry_points

    check = "def check(candidate):\n    assert candidate(2) == poly(2)\n\ncheck(f)\n"
    assert entry_points("def poly(x):\n    return x\ndef f(x):\n    return x\n", check) == ("f", "poly")
    # MBPP 126: the solution is named `sum`; in code_eval's one program it hides the builtin
    asserts = "assert sum(10, 15) == 6\nassert len([1]) == 1\n"
    assert entry_points("def sum(a, b):\n    return 6\n", asserts) == ("sum",)
    assert entry_points("def sum(a, b:\n", asserts) == ()  # does not parse: its box reports that


@needs_lm_eval
@pytest.mark.parametrize("stock, reason", [
    ("cruxeval/cruxeval_output.yaml", "key metric_list: pass_at_k of an unsafe_code task is not a wrapper of "
                                      "HF evaluate's code_eval (utils.py loads no code_eval)"),
    ("longproc/pseudo_to_code_2k.yaml", "key process_results: an unsafe_code task's own scoring")])
def test_stock_tasks_that_run_code_their_own_way_are_refused(stock, reason):
    with pytest.raises(UsageError, match="^" + re.escape(f"{STOCK / stock}: {reason}")):
        get_task(str(STOCK / stock))


@needs_lm_eval
def test_stock_code_eval_wrappers_are_recognised_from_their_source():
    from evalkit.task_kinds.yaml_format.code_eval import _read

    assert _read(STOCK / "humaneval" / "utils.py", "pass_at_k") == ((), None, 3.0, "k")  # k from the entry
    assert _read(STOCK / "humaneval_infilling" / "utils.py", "pass_at_k") == ((), None, 3.0, "k")
    assert _read(STOCK / "mbpp" / "utils.py", "pass_at_1") == ((1,), "pass@1", 3.0, None)


CODE_EVAL = '''"""A stand-in for HF evaluate's code_eval: answers the self-test lm-eval's utils.py run on import
(without running it) and raises on anything else, so a verdict of the run can only come from evalkit's box."""
import datasets
import evaluate


class CodeEval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="", citation="", inputs_description="", features=datasets.Features(
            {"predictions": datasets.Sequence(datasets.Value("string")), "references": datasets.Value("string")}))

    def _compute(self, predictions, references, k=[1, 10, 100], num_workers=4, timeout=3.0):
        if references == ["assert add(2, 3)==5"]:
            return {"pass@1": 0.0}, {}
        raise RuntimeError("evalkit must not call code_eval")
'''


def stock_copy(folder, name, old, new):
    """lm-eval's task file and its utils.py, only the data's location changed."""
    (folder / name).mkdir()
    shutil.copy(STOCK / name / "utils.py", folder / name / "utils.py")
    text = (STOCK / name / f"{name}.yaml").read_text()
    assert old in text
    (folder / name / f"{name}.yaml").write_text(text.replace(old, new))
    return folder / name / f"{name}.yaml"


@needs_data
@needs_lm_eval
def test_stock_humaneval_and_mbpp_run_unchanged_with_verdicts_from_the_box(tmp_path):
    pytest.importorskip("evaluate")
    import gzip

    (tmp_path / "code_eval").mkdir()  # evaluate.load("code_eval") loads a folder of that name in the working folder
    (tmp_path / "code_eval" / "code_eval.py").write_text(CODE_EVAL)
    humaneval = stock_copy(tmp_path, "humaneval", "dataset_path: openai/openai_humaneval",
                           "dataset_path: json\ndataset_kwargs: {data_files: {test: humaneval.jsonl}}")
    mbpp = stock_copy(tmp_path, "mbpp", "dataset_path: google-research-datasets/mbpp\ndataset_name: full",
                      "dataset_path: json\ndataset_kwargs: {data_files: {test: mbpp.jsonl}}")
    with gzip.open(DATA_DIR / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:3]
    rows = [json.loads(line) for line in (DATA_DIR / "mbpp" / "mbpp.jsonl").open()]
    rows = [r for r in rows if r["task_id"] in (11, 12, 13)]
    for name, records in (("humaneval", problems), ("mbpp", rows)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # HumanEval/32's test calls the prompt's `poly` too: the candidate's, through the pipe
    write_generations(tmp_path / "humaneval_gen.jsonl", "humaneval",
                      [[p["canonical_solution"]] for p in problems[:2]] + [["    return None\n"]])
    write_generations(tmp_path / "mbpp_gen.jsonl", "mbpp",
                      [[r["code"] + "\n"] for r in rows[:2]] + [["def nothing():\n    pass\n"]])
    env = {"HF_EVALUATE_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    for task, path, key in (("humaneval", humaneval, "pass@1,create_test"), ("mbpp", mbpp, "pass_at_1")):
        proc, pid = run(tmp_path, "--tasks", str(path), "--allow-code-execution", "--load-generations",
                        f"{task}_gen.jsonl", "--output-dir", f"out_{task}", env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results = json.loads((tmp_path / f"out_{task}" / "results.json").read_text())
        assert results["results"][task][key] == pytest.approx(2 / 3)
        samples = [json.loads(line) for line in (tmp_path / f"out_{task}" / "samples" / f"{task}.jsonl").open()]
        assert [v["passed"] for s in samples for v in s["code_eval"].values()] == [[True], [True], [False]]
        assert results["scorers"][task]["code_execution"]["judged"] == 3 and boxes_left(pid) == []
