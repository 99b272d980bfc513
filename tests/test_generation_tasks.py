"""The generation tasks of Tables 4, 5 and 7: data in the authors' layouts and the Hub's, prompts, shots
that must fit the window, maj1@k per problem, and generations files that reproduce a run's scores."""
import json
import subprocess
import sys

import datasets
import pytest

from evalkit.errors import DataError, UsageError
from evalkit.requests import GenerateRequest, GenerateResult
from evalkit.task import Answer, DataSource, RunContext
from tasks import get_task

from conftest import DATA_DIR, FIXTURES, REPO, STORIES_BIN

# The fixture's first web-dev question and the first wikipedia-train one, in the Hub's schema.
TRIVIA_HUB_ROWS = {
    "validation": [{"question": "Which English city is home to the Cavern Club, where the Beatles played?",
                    "question_id": "dw_0", "question_source": "http://www.example.org/quiz/dw/0",
                    "entity_pages": {}, "search_results": {},
                    "answer": {"aliases": ["Liverpool"], "normalized_aliases": ["liverpool"],
                               "matched_wiki_entity_name": "Liverpool",
                               "normalized_matched_wiki_entity_name": "liverpool", "normalized_value": "liverpool",
                               "type": "WikipediaEntity", "value": "Liverpool"}}],
}


def test_nq_open_dev_and_the_figure_3_prompt(data_dir):
    task = get_task("naturalquestions_1shot")
    docs = task.docs(DataSource(data_dir=data_dir))
    assert len(docs) == 3610
    assert docs[0] == {"question": "when was the last time anyone was on the moon",
                       "answers": ["14 December 1972 UTC", "December 1972"], "shot_answer": "14 December 1972 UTC"}
    (request,) = task.requests(docs[0], 0, seed=1234)
    shot_q, shot_a = request.context.splitlines()[1:3]
    assert request.context == (f"Answer these questions:\n{shot_q}\n{shot_a}\n"
                               "Q: When was the last time anyone was on the moon?\nA:")  # as the paper's Figure 3
    assert shot_q.startswith("Q: ") and shot_q[3].isupper() and shot_q.endswith("?") and shot_a.startswith("A: ")
    assert (request.until, request.temperature, request.n) == (("\n", ".", ","), 0.0, 1)


def test_few_shot_without_the_train_file_names_it():
    task = get_task("naturalquestions_5shot")
    with pytest.raises(DataError, match=r"5-shot runs need the train split .*NQ-open\.train\.jsonl \(zero-shot"):
        task.docs(DataSource(data_dir=DATA_DIR))
    assert len(get_task("naturalquestions_0shot").docs(DataSource(data_dir=DATA_DIR), limit=2)) == 2


def test_the_missing_train_file_is_one_line_before_any_model_work(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", str(STORIES_BIN),
                           "--tasks", "naturalquestions_64shot", "--data-dir", str(DATA_DIR), "--no-progress",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "naturalquestions_64shot: 64-shot runs need the train split" in line and "NQ-open.train.jsonl" in line


def test_64_shots_drop_from_the_end_until_the_prompt_fits(data_dir):
    task = get_task("naturalquestions_64shot")
    doc = task.docs(DataSource(data_dir=data_dir), limit=1)[0]
    (whole,) = task.requests(doc, 0, seed=1)
    assert whole.context.count("\nA: ") == 64
    count = lambda text: len(text.split())  # noqa: E731  (a word counter stands in for a tokenizer)
    window = count(whole.context) // 3 + task.protocol.max_new_tokens
    (cut,) = task.requests(doc, 0, seed=1, context=RunContext(window, count))
    kept = cut.context.count("\nA: ")
    assert 0 < kept < 64 and count(cut.context) + task.protocol.max_new_tokens <= window
    shots = whole.context.split("\nQ: ")
    assert cut.context == "\nQ: ".join(shots[:kept + 1] + shots[-1:])  # the first `kept` shots, in order
    sample = task.process(doc, 0, 1, [Answer(cut, GenerateResult(("December 1972.",)))])
    assert sample.extra["num_fewshot"] == kept and sample.metrics == {"exact_match": 1.0}


def test_triviaqa_authors_layout_web_then_wikipedia_with_aliases():
    task = get_task("triviaqa_5shot")
    docs = task.docs(DataSource(data_dir=FIXTURES))
    assert [d["question"][:20] for d in docs] == ["Which English city i", "What is the name of ", "In which sport is th",
                                                   "Which Shakespeare pl", "The Liberty Bell is ", "What is the name of "]
    assert docs[3]["answers"] == ["Hamlet", "The Tragedy of Hamlet, Prince of Denmark", "hamlet",
                                  "tragedy of hamlet prince of denmark"]
    assert len(task.fewshot_pool()) == 70
    (request,) = task.requests(docs[4], 4, seed=0)
    assert request.context.count("\nA: ") == 5 and request.context.endswith("Q: The Liberty Bell is in which U.S. city?\nA:")
    sample = task.process(docs[4], 4, 0, [Answer(request, GenerateResult((" Philly",)))])
    assert sample.metrics == {"exact_match": 1.0} and sample.prediction == "philly"


def test_triviaqa_hub_rows_give_the_same_documents(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda path, name=None, split=None: TRIVIA_HUB_ROWS[split] if
                        (path, name) == ("mandarjoshi/trivia_qa", "rc.nocontext") else None)
    hub = get_task("triviaqa_0shot").docs(DataSource())
    local = get_task("triviaqa_0shot").docs(DataSource(data_dir=FIXTURES), limit=1)
    assert hub == local


def test_malformed_triviaqa_names_the_record(tmp_path):
    folder = tmp_path / "triviaqa" / "qa"
    folder.mkdir(parents=True)
    (folder / "web-dev.json").write_text(json.dumps({"Data": [{"Question": "Q?", "QuestionId": "q1",
                                                               "Answer": {"Value": "x"}}]}))
    (folder / "wikipedia-dev.json").write_text(json.dumps({"Data": []}))
    with pytest.raises(DataError, match=r"web-dev\.json: Data\[0\]\.Answer: missing field 'Aliases'"):
        get_task("triviaqa_0shot").docs(DataSource(data_dir=tmp_path))


def test_triviaqa_question_in_both_evidence_domains_is_one_document(tmp_path):
    folder = tmp_path / "triviaqa" / "qa"
    folder.mkdir(parents=True)

    def record(qid, question):
        return {"QuestionId": qid, "Question": question, "Answer": {"Value": "x", "Aliases": ["x"], "NormalizedAliases": ["x"]}}

    (folder / "web-dev.json").write_text(json.dumps({"Data": [record("q1", "One?"), record("q2", "Two?")]}))
    (folder / "wikipedia-dev.json").write_text(json.dumps({"Data": [record("q2", "Two?"), record("q3", "Three?")]}))
    docs = get_task("triviaqa_0shot").docs(DataSource(data_dir=tmp_path))
    assert [(d["id"], d["question"]) for d in docs] == [("q1", "One?"), ("q2", "Two?"), ("q3", "Three?")]


def test_exemplar_prompts_and_their_shot_counts():
    gsm8k, math = get_task("gsm8k"), get_task("math")
    doc = {"question": "What is 2 + 3?", "solution": "2 + 3 = 5\n#### 5", "gold": "5"}
    (request,) = gsm8k.requests(doc, 0, seed=0)
    assert request.context.startswith("Q: There are 15 trees in the grove.")
    assert request.context.count("The answer is") == 8 and request.context.endswith("\n\nQ: What is 2 + 3?\nA:")
    gsm8k.configure(num_fewshot=0)
    assert gsm8k.requests(doc, 0, seed=0)[0].context == "Q: What is 2 + 3?\nA:"
    with pytest.raises(UsageError, match="num_fewshot must be 0 to 4"):
        math.configure(num_fewshot=5)
    record = math.protocol_dict()
    assert record["num_fewshot"] == 4 and len(record["exemplars_hash"]) == 64


def test_maj1_at_k_records_every_answer_the_votes_and_the_winner():
    task = get_task("gsm8k_maj1@k")
    assert (task.protocol.n, task.protocol.temperature, task.protocol.top_p) == (100, 0.6, 0.95)
    task.configure(n=6)
    doc = {"question": "q", "solution": "#### 1,000", "gold": "1000"}
    (request,) = task.requests(doc, 0, seed=0)
    texts = ("So 1,000. The answer is 1,000.", "The answer is 7.", "I think 7.", "The answer is $7",
             "The answer is 1000.00", "The answer is 1000")
    sample = task.process(doc, 0, 0, [Answer(request, GenerateResult(texts))])
    assert sample.extra["answers"] == ["1000", "7", None, "7", "1000", "1000"]
    assert sample.extra["votes"] == {"1000": 3, "7": 2}
    assert (sample.prediction, sample.metrics) == ("1000", {"exact_match": 1.0})
    assert sample.extra["winner_completion"] == texts[0]
    tie = task.process(doc, 0, 0, [Answer(request, GenerateResult(texts[:5]))])  # 2 each: "7" reached 2 first
    assert (tie.prediction, tie.metrics) == ("7", {"exact_match": 0.0})


def test_math_judges_by_minerva_and_math_verify():
    task = get_task("math")
    doc = {"problem": "p", "solution": r"so $\boxed{\frac{1}{2}}$", "gold_boxed": r"\frac{1}{2}", "gold": r"\frac{1}{2}"}
    request = task.requests(doc, 0, seed=0)[0]
    text = "It is one half.\nFinal Answer: The final answer is $0.5$. I hope it is correct."
    sample = task.process(doc, 0, 0, [Answer(request, GenerateResult((text,)))])
    assert sample.prediction == "0.5"
    assert sample.metrics == {"exact_match": 1.0, "exact_match_boxed": 1.0, "math_verify": 1.0, "symbolic_timeout": 0.0}
    boxed_only = "It is one half, $\\boxed{0.5}$."  # no Final Answer line: wrong by Minerva's rule, right by the lenient one
    sample = task.process(doc, 0, 0, [Answer(request, GenerateResult((boxed_only,)))])
    assert sample.prediction is None
    assert sample.metrics == {"exact_match": 0.0, "exact_match_boxed": 1.0, "math_verify": 1.0, "symbolic_timeout": 0.0}


def run(*args):
    return subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--no-progress", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=900)


def outputs(out):
    results = json.loads((out / "results.json").read_text())["results"]
    samples = {path.stem: [json.loads(line) for line in path.read_text().splitlines()]
               for path in sorted((out / "samples").glob("*.jsonl"))}
    return results, samples


def test_loaded_generations_reproduce_the_scores_of_the_run_that_saved_them(tmp_path, data_dir):
    first, second = tmp_path / "first", tmp_path / "second"
    tasks = "naturalquestions_5shot,gsm8k_maj1@k,math"
    proc = run("--model", str(STORIES_BIN), "--tasks", tasks, "--data-dir", str(data_dir), "--limit", "3",
               "--n-samples", "3", "--save-generations", "--output-dir", str(first))
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = [json.loads(line) for line in (first / "generations" / "gsm8k_maj1@k.jsonl").read_text().splitlines()]
    assert [s["task_id"] for s in saved] == ["0", "1", "2"] and all(len(s["completions"]) == 3 for s in saved)
    math_ids = [json.loads(line)["task_id"] for line in (first / "generations" / "math.jsonl").read_text().splitlines()]
    assert math_ids == ["0", "1", "2"]  # MATH keeps the source's idx
    for name in tasks.split(","):
        samples_flag = ["--n-samples", "3"] if name.endswith("maj1@k") else []  # as the file was written
        proc = run("--tasks", name, "--data-dir", str(data_dir), "--limit", "3", *samples_flag,
                   "--load-generations", str(first / "generations" / f"{name}.jsonl"), "--output-dir", str(second / name))
        assert proc.returncode == 0, proc.stderr[-2000:]
        (results, samples), (saved_results, saved_samples) = outputs(second / name), outputs(first)
        assert results[name] == saved_results[name]
        for loaded, original in zip(samples[name], saved_samples[name]):
            assert {k: v for k, v in loaded.items() if k not in ("prompt", "num_fewshot")} == \
                   {k: v for k, v in original.items() if k not in ("prompt", "num_fewshot")}
