"""Shots used: results.json records, per task, the shots its documents actually got (asked, mean, min, max),
each sample its own count, and a report row whose documents got fewer than asked says so in its label."""
from __future__ import annotations

import json
import re

import evalkit
from conftest import DATA_DIR, STORIES_BIN, needs_shared
from evalkit.report import render_reports
from evalkit.task_kinds.multiple_choice import FEWSHOT_DELIMITER, delimited_shot_starts
from report_fixtures import full_result, only
from tasks.mbpp import TASK_INTRO


def run(tmp_path, *tasks, **options):
    out = tmp_path / "out"
    document = evalkit.evaluate(model=str(STORIES_BIN), tasks=list(tasks), data_dir=DATA_DIR, no_progress=True,
                                output_dir=out, **options)
    samples = {task: [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]
               for task in tasks}
    return document, samples, (out / "report.md").read_text()


def row_labels(markdown: str) -> list[str]:
    return re.findall(r"^\| (stories260K[^|]*?) +\|", markdown, re.M)


def summary(counts: list[int], asked: int) -> dict:
    return {"asked": asked, "mean": sum(counts) / len(counts), "min": min(counts), "max": max(counts)}


@needs_shared
def test_mmlu_on_a_512_token_window_records_and_labels_the_shots_it_got(tmp_path):
    document, samples, markdown = run(tmp_path, "mmlu_high_school_european_history", limit=3)
    counts = [s["num_fewshot"] for s in samples["mmlu_high_school_european_history"]]
    used = document["protocol"]["mmlu_high_school_european_history"]["shots_used"]
    assert used == summary(counts, 5) and used["max"] < 5  # long passages: no question holds 5 shots
    assert all(f"{used['mean']:.1f} of 5 shots" in label for label in row_labels(markdown))


@needs_shared
def test_generation_tasks_record_their_shots(tmp_path):
    document, samples, markdown = run(tmp_path, "gsm8k", "math", "naturalquestions_0shot", limit=2,
                                      max_new_tokens=16)
    for task, asked in (("gsm8k", 8), ("math", 4), ("naturalquestions_0shot", 0)):
        counts = [s["num_fewshot"] for s in samples[task]]
        assert document["protocol"][task]["shots_used"] == summary(counts, asked)
    assert document["protocol"]["gsm8k"]["shots_used"]["max"] < 8
    labels = row_labels(markdown)
    assert any(f"{document['protocol']['gsm8k']['shots_used']['mean']:.1f} of 8 shots" in label for label in labels)
    assert not any("of 0 shots" in label for label in labels)  # zero-shot: nothing short


@needs_shared
def test_mbpp_counts_only_shots_the_window_kept_whole(tmp_path):
    """MBPP renders its 3 shots and the window cuts the prompt from the left: a shot counts only where its
    whole text reached the model."""
    from evalkit.model.loaders import load_model
    tokenizer = load_model(str(STORIES_BIN)).tokenizer
    document, samples, markdown = run(tmp_path, "mbpp", limit=2, n_samples=1, allow_code_execution=True)
    for sample in samples["mbpp"]:
        prompt = sample["prompt"]
        starts = [m.start() for m in re.finditer(re.escape(TASK_INTRO), prompt)][:-1]
        whole = [s for s in starts if len(tokenizer.encode(prompt[s:], bos=True)) <= 512]
        assert len(starts) == 3 and sample["num_fewshot"] == len(whole)
    used = document["protocol"]["mbpp"]["shots_used"]
    assert used["asked"] == 3 and used["min"] < 3
    assert f"{used['mean']:.1f} of 3 shots" in row_labels(markdown)[0]


@needs_shared
def test_a_yaml_task_whose_prompt_is_cut_counts_the_shots_left_whole(tmp_path):
    rows = [{"q": f"Question {i}: " + "a long story about a cat and a dog " * (16 if i else 1), "a": str(i)}
            for i in range(6)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "long.yaml").write_text('task: long\ndataset_path: json\n'
                                        f'dataset_kwargs: {{data_files: {{test: {tmp_path / "rows.jsonl"}}}}}\n'
                                        'test_split: test\n'
                                        'output_type: generate_until\n'
                                        'doc_to_text: "{{q}}"\ndoc_to_target: a\nnum_fewshot: 4\n'
                                        'generation_kwargs: {until: ["\\n"], max_gen_toks: 4}\n'
                                        'metric_list: [{metric: exact_match}]\n')
    document = evalkit.evaluate(model=str(STORIES_BIN), tasks=[str(tmp_path / "long.yaml")], no_progress=True,
                                output_dir=tmp_path / "out")
    counts = [json.loads(line)["num_fewshot"] for line in (tmp_path / "out" / "samples" / "long.jsonl").open()]
    used = document["protocol"]["long"]["shots_used"]
    assert used == summary(counts, 4) and 0 < used["max"] < 4  # some shots fit the 512 tokens, not all four


def test_delimited_shot_starts():
    prompt = FEWSHOT_DELIMITER.join(["one 1", "two 2", "three 3", "question"])
    assert delimited_shot_starts(prompt, 3) == [0, prompt.index("two"), prompt.index("three")]
    assert delimited_shot_starts(prompt, 0) == []


def test_label_says_the_shots_used_where_fewer_than_asked():
    result = only(full_result(), ["mmlu"])
    result["model"].update(label="tiny")
    result["run"] = {"limit": 12}
    result["results"]["mmlu"].update(n=12 * 57, n_total=14042)
    result["protocol"]["mmlu"].update(num_fewshot=5, shots_used={"asked": 5, "mean": 1.2, "min": 0, "max": 3},
                                      options={"limit": 12})
    markdown, _ = render_reports([result])
    assert "| tiny (1.2 of 5 shots, first 12 docs) |" in markdown
    assert "tiny (1.2 of 5 shots, first 12 docs), mmlu: 0 to 3 of the 5 shots asked per document (mean 1.20)" \
           in markdown
    result["protocol"]["mmlu"]["shots_used"] = {"asked": 5, "mean": 5.0, "min": 5, "max": 5}
    assert "of 5 shots" not in render_reports([result])[0]
