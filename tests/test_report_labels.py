"""Report rows tell the truth: settings that change a number are in the row's label, what a cell cannot
show is a note under the table, user tasks get a table of their own, and a reused output folder holds
one run only."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

from conftest import DATA_DIR, REPO, STORIES_BIN, needs_data, needs_stories
from evalkit.report import render_reports
from report_fixtures import full_result, only

CLI = [sys.executable, str(REPO / "run_eval.py")]


def cli(*args):
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def table(markdown: str, number: int) -> str:
    return markdown.split(f"## Table {number}:")[1].split("\n## ")[0]


def test_label_lists_the_departures_from_the_paper_protocol():
    result = only(full_result(), ["boolq", "piqa", "humaneval"])
    result["model"].update(format="tiny", label="mine")
    result["run"] = {"num_fewshot": 3, "dtype": "bfloat16", "limit": 100, "n_samples": 2}
    result["results"]["boolq"].update(n=100, n_total=3270)
    result["results"]["piqa"].update(n=100, n_total=1838)
    result["results"]["humaneval"].update(n=100, n_total=164)
    del result["results"]["humaneval"]["pass@100"]
    result["protocol"]["humaneval"].update(n=2, k=100)
    result["protocol"]["piqa"].update(scorer="local", paper_scorer="perspective")
    markdown, _ = render_reports([result])
    assert "| mine (random weights, 3-shot, bfloat16, first 100 docs, scorer local) |" in table(markdown, 3)
    table8 = table(markdown, 8)
    assert "mine (random weights, 3-shot, 2 samples per problem, bfloat16, first 100 docs)" in table8
    assert "Runs:\n- mine (random weights, 3-shot, 2 samples per problem, bfloat16, first 100 docs), humaneval: " \
           "pass@100 needs 100 samples per problem; this run has 2" in table8


def test_a_limit_past_the_benchmark_is_not_a_cut():
    result = only(full_result(), ["piqa"])
    result["run"] = {"limit": 100000}
    result["results"]["piqa"].update(n=1838, n_total=1838)
    markdown, _ = render_reports([result])
    assert "| tiny-7M  " in table(markdown, 3) and "first" not in table(markdown, 3)


def test_run_label_tiny_and_limit_end_to_end(tmp_path):
    cli("run", "--model", "tiny", "--tasks", "piqa,boolq", "--examples", "--limit", "100000", "--label", "mine",
        "--no-progress", "--output-dir", str(tmp_path))
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["results"]["piqa"]["n"] == document["results"]["piqa"]["n_total"]
    assert document["model"]["label"] == "mine"
    assert "| mine (random weights, example docs) |" in (tmp_path / "report.md").read_text()
    # the same folder, another run: the first run's other task leaves with its results.json
    cli("run", "--model", "tiny", "--tasks", "boolq", "--examples", "--no-progress", "--output-dir", str(tmp_path))
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["boolq.jsonl"]
    assert list(json.loads((tmp_path / "results.json").read_text())["results"]) == ["boolq"]


def test_user_task_gets_a_table_of_its_own(tmp_path):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"q": f"Is {i} even?", "label": i % 2}) + "\n"
                                                 for i in range(4)))
    rows = tmp_path / "rows.jsonl"  # data_files are read from the working folder (here the repository's)
    (tmp_path / "parity.yaml").write_text(f'task: parity\ndataset_path: json\ndataset_kwargs: {{data_files: {{test: {rows}}}}}\ntest_split: test\noutput_type: multiple_choice\n'
                                          'doc_to_text: "{{q}}"\ndoc_to_choice: ["yes", "no"]\n'
                                          'doc_to_target: label\n')
    cli("run", "--model", "tiny", "--tasks", str(tmp_path / "parity.yaml"), "--no-progress",
        "--output-dir", str(tmp_path / "out"))
    markdown = (tmp_path / "out" / "report.md").read_text()
    section = markdown.split("## Tasks outside the paper's tables")[1]
    assert "| tiny (random weights) | parity | acc " in section and "|   4 |" in section
    assert "Tasks outside the paper's tables" in (tmp_path / "out" / "report.tex").read_text()


@needs_data
def test_one_completion_per_problem_gives_pass_at_1_and_a_note(tmp_path):
    with gzip.open(DATA_DIR / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:3]
    generations = tmp_path / "samples.jsonl"  # human-eval's format: one completion per line
    generations.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]})
                                   + "\n" for p in problems))
    out = tmp_path / "out"
    cli("run", "--tasks", "humaneval", "--data-dir", str(DATA_DIR), "--limit", "3", "--load-generations",
        str(generations), "--allow-code-execution", "--no-progress", "--output-dir", str(out))
    document = json.loads((out / "results.json").read_text())
    assert document["results"]["humaneval"]["pass@1"] == 1.0 and "pass@100" not in document["results"]["humaneval"]
    table8 = table((out / "report.md").read_text(), 8)
    assert "1 sample per problem" in table8 and "pass@100 needs 100 samples per problem; this run has 1" in table8


@needs_stories
def test_window_caps_are_counted_and_noted(tmp_path):
    cli("run", "--model", str(STORIES_BIN), "--tasks", "humaneval", "--data-dir", str(DATA_DIR), "--limit", "2",
        "--n-samples", "1", "--allow-code-execution", "--no-progress", "--output-dir", str(tmp_path))
    window = json.loads((tmp_path / "results.json").read_text())["window"]["humaneval"]
    assert window["max_length"] == 512 and window["documents"] == 2 and window["new_tokens_capped"] == 2
    assert "in the 512-token window, 0 of 2 prompts were cut from the left and 2 had their new tokens capped" \
        in table((tmp_path / "report.md").read_text(), 8)


def test_documents_left_unscored_make_the_row_incomplete():
    result = only(full_result(), ["piqa"])
    result["scorers"] = {"piqa": {"toxicity": {"failed": 2}, "excluded_documents": 2}}
    markdown, _ = render_reports([result])
    assert "| tiny-7M (incomplete: 2 documents unscored) |" in table(markdown, 3)



def test_max_new_tokens_is_in_the_label_and_the_notes(tmp_path):
    import evalkit
    document = evalkit.evaluate(model="tiny", tasks=["gsm8k"], examples=True, limit=1, max_new_tokens=16,
                                no_progress=True, output_dir=tmp_path)
    assert document["protocol"]["gsm8k"]["options"]["max_new_tokens"] == 16
    table7 = table((tmp_path / "report.md").read_text(), 7)
    assert "| tiny (random weights, example docs, first 1 docs, max 16 new tokens) |" in table7
    assert "at most 16 new tokens (--max-new-tokens)" in table7


def test_a_label_names_only_the_settings_that_applied_to_its_tasks(tmp_path):
    """The README demo's --n-samples reaches the tasks that draw n, not greedy NaturalQuestions."""
    import evalkit
    evalkit.evaluate(model="tiny", tasks=["naturalquestions_0shot", "gsm8k_maj1@k"], examples=True, limit=1,
                     n_samples=2, max_new_tokens=4, no_progress=True, output_dir=tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    table4, table7 = table(markdown, 4), table(markdown, 7)
    assert "| tiny (random weights, example docs, first 1 docs, max 4 new tokens) |" in table4
    assert "sample" not in table4
    assert "| tiny (random weights, example docs, 2 samples per problem, first 1 docs, max 4 new tokens) |" in table7
    assert "2 samples per problem (--n-samples)" in table7


def test_the_backend_is_in_the_label_where_it_is_not_the_default(tmp_path):
    import pytest
    transformers = pytest.importorskip("transformers")
    import shutil

    import evalkit
    from conftest import STORIES_DIR
    config = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=64,
                                      bos_token_id=1, eos_token_id=2)
    folder = tmp_path / "model"
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    transformers.AutoTokenizer.from_pretrained(folder).save_pretrained(folder)
    documents = [evalkit.evaluate(model=str(folder), tasks=["piqa"], examples=True, limit=2, no_progress=True,
                                  **backend) for backend in ({}, {"backend": "hf"})]
    assert [d["protocol"]["piqa"]["options"].get("backend") for d in documents] == [None, "hf"]
    markdown, _ = render_reports(documents)
    labels = [line.split(" | ")[0].strip() for line in table(markdown, 3).splitlines() if line.startswith("| model")]
    assert labels == ["| model (example docs, first 2 docs)", "| model (example docs, first 2 docs, hf backend)"]
