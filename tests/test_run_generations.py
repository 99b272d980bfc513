"""--save-generations and --load-generations on a task that is not code: a YAML generate_until task."""
import json
import subprocess
import sys

from conftest import REPO, STORIES_BIN, needs_stories

ROWS = [{"question": "Who saw a dog?", "answer": "Lily"}, {"question": "What was red?", "answer": "the ball"},
        {"question": "Who was happy?", "answer": "Tom"}]
TASK = """
task: stories_qa
dataset_path: json
dataset_kwargs: {data_files: {test: rows.jsonl}}
test_split: test
output_type: generate_until
doc_to_text: "Q: {{question}}\\nA:"
doc_to_target: answer
generation_kwargs: {until: ["\\n"], max_gen_toks: 8}
filter_list: [{name: strip, filter: [{function: remove_whitespace}, {function: take_first}]}]
"""


def run(*args):
    return subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def write_task(tmp_path):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "task.yaml").write_text(TASK.replace("rows.jsonl", str(tmp_path / "rows.jsonl")))  # from the working folder
    return str(tmp_path / "task.yaml")


def samples(out):
    return [json.loads(line) for line in (out / "samples" / "stories_qa.jsonl").read_text().splitlines()]


def test_loaded_generations_are_scored_without_a_model(tmp_path):
    task = write_task(tmp_path)
    generations = tmp_path / "gen.jsonl"
    answers = [" Lily", " a cat", "Tom "]  # keyed by document index, the default doc_key
    generations.write_text("".join(json.dumps({"task_id": str(i), "completions": [a]}) + "\n"
                                   for i, a in enumerate(answers)))
    out = tmp_path / "out"
    proc = run("--tasks", task, "--load-generations", str(generations), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["results"]["stories_qa"]["exact_match,strip"] == 2 / 3
    assert results["model"]["format"] == "generations" and results["model"]["backend"] == "generations"
    assert [s["prediction"] for s in samples(out)] == ["Lily", "a cat", "Tom"]


@needs_stories
def test_saved_generations_give_the_same_scores_when_loaded(tmp_path):
    task = write_task(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    proc = run("--model", str(STORIES_BIN), "--tasks", task, "--save-generations", "--output-dir", str(first))
    assert proc.returncode == 0, proc.stderr
    saved = [json.loads(line) for line in (first / "generations" / "stories_qa.jsonl").read_text().splitlines()]
    assert [line["task_id"] for line in saved] == ["0", "1", "2"] and all(len(s["completions"]) == 1 for s in saved)
    proc = run("--tasks", task, "--load-generations", str(first / "generations" / "stories_qa.jsonl"),
               "--output-dir", str(second))
    assert proc.returncode == 0, proc.stderr
    assert samples(first) == samples(second)


def test_generations_cannot_answer_scoring_tasks(tmp_path):
    generations = tmp_path / "gen.jsonl"
    generations.write_text(json.dumps({"task_id": "0", "completions": ["x"]}) + "\n")
    proc = run("--tasks", "boolq", "--examples", "--load-generations", str(generations),
               "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: boolq asks for LoglikelihoodRequests, and the generations "
                                                "backend answers generation requests only; score it with a model "
                                                "backend"]
