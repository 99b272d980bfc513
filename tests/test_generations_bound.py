"""A generations file is bound to its task: it names the task, a run of several tasks takes a folder of
<task>.jsonl files, and a file of another task or with ids that are no document of the task is refused in
one line before any work. Loaded completions are cut at the task's stop strings, as generated ones are,
before its answer extraction."""
import json
import subprocess
import sys

from conftest import REPO
from evalkit.generations_file import load_generations

NQ_GOLD = ["Tolkien", "Paris", "24"]  # the example documents' answers (evalkit/assets/examples)


def run(*args):
    return subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", "--examples", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def write(path, task, completions, ids=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = ids or [str(i) for i in range(len(completions))]
    path.write_text("".join(json.dumps({**({"task": task} if task else {}), "task_id": i, "completions": [c]}) + "\n"
                            for i, c in zip(ids, completions)))
    return path


def samples(out, task):
    return [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


def refused(proc, out, *parts):
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and not out.exists()  # no task ran, nothing written
    line, = proc.stderr.splitlines()
    assert all(part in line for part in parts), line


def test_another_tasks_file_is_refused_before_any_work(tmp_path):
    gsm = write(tmp_path / "gsm.jsonl", "gsm8k", [" 6 + 4 = 10. The answer is 10."] * 3)
    out = tmp_path / "out"
    proc = run("--tasks", "gsm8k,naturalquestions_0shot", "--load-generations", str(gsm), "--output-dir", str(out))
    refused(proc, out, f"error: {gsm}: field 'task' is 'gsm8k'", "not naturalquestions_0shot's",
            "a folder of <task>.jsonl")
    # a file naming no task (another tool's) cannot answer two tasks either
    bare = write(tmp_path / "bare.jsonl", None, [" 10"] * 3)
    proc = run("--tasks", "gsm8k,naturalquestions_0shot", "--load-generations", str(bare), "--output-dir", str(out))
    refused(proc, out, f"error: {bare}: no line names its task", "gsm8k and naturalquestions_0shot")


def test_ids_that_are_no_document_of_the_task_are_refused(tmp_path):
    nq = write(tmp_path / "nq.jsonl", "naturalquestions_0shot", NQ_GOLD + ["x"], ids=["0", "1", "2", "HumanEval/0"])
    out = tmp_path / "out"
    proc = run("--tasks", "naturalquestions_0shot", "--load-generations", str(nq), "--output-dir", str(out))
    refused(proc, out, f"error: {nq}: task_id 'HumanEval/0' is no document of naturalquestions_0shot")


def test_a_folder_answers_each_task_from_its_own_file(tmp_path):
    first = tmp_path / "first"
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", "--examples", "--model",
                           "tiny", "--tasks", "gsm8k,naturalquestions_0shot", "--limit", "3", "--max-new-tokens", "8",
                           "--save-generations", "--output-dir", str(first)], capture_output=True, text=True, cwd=REPO,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    folder = first / "generations"
    assert load_generations(folder / "gsm8k.jsonl").task == "gsm8k"
    write(folder / "naturalquestions_0shot.jsonl", "naturalquestions_0shot", NQ_GOLD)
    out = tmp_path / "out"
    proc = run("--tasks", "gsm8k,naturalquestions_0shot", "--load-generations", str(folder), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())["results"]
    assert results["naturalquestions_0shot"]["exact_match"] == 1.0
    assert samples(out, "gsm8k") == samples(first, "gsm8k")


def test_loaded_completions_are_cut_at_the_tasks_stop_strings(tmp_path):
    nq = write(tmp_path / "nq.jsonl", "naturalquestions_0shot",
               [" Tolkien, and more words", " Paris. It is in France", " 24\nQ: next question"])
    out = tmp_path / "out"
    proc = run("--tasks", "naturalquestions_0shot", "--load-generations", str(nq), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [s["completion"] for s in samples(out, "naturalquestions_0shot")] == [" Tolkien", " Paris", " 24"]
    assert json.loads((out / "results.json").read_text())["results"]["naturalquestions_0shot"]["exact_match"] == 1.0
