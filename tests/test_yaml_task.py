"""User tasks in lm-eval's YAML format build lm-eval's requests and score them with lm-eval's metrics,
filters and groups; bad files stop with one line naming the file and the key."""
import json
import math

import pytest

from evalkit.errors import DataError, UsageError
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)
from evalkit.task import Answer, DataSource
from evalkit.task_kinds.yaml_task import load_from_folder
from tasks import get_task, resolve_tasks

ROWS = [{"goal": "Open a jar", "sol1": "twist the lid", "sol2": "shake it", "label": 0},
        {"goal": "Dry hands", "sol1": "use a towel", "sol2": "use a spoon", "label": 0},
        {"goal": "Boil water", "sol1": "freeze it", "sol2": "heat it", "label": 1}]
DATA = "dataset_path: json\ndataset_kwargs: {data_files: {test: data/rows.jsonl}}\ntest_split: test\n"


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Relative data_files are read from the working folder, as lm-eval reads them."""
    monkeypatch.chdir(tmp_path)


def write_task(tmp_path, text, rows=ROWS, name="task.yaml"):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / name
    path.write_text(text)
    return get_task(str(path))


def answer(requests, values, greedy=False):
    return [Answer(r, LoglikelihoodResult(v, 1, greedy)) for r, v in zip(requests, values)]


MC_YAML = DATA + """
task: my_piqa
output_type: multiple_choice
doc_to_text: "Question: {{goal}}\\nAnswer:"
doc_to_choice: "{{[sol1, sol2]}}"
doc_to_target: label
metric_list: [{metric: acc}, {metric: acc_norm}, {metric: acc_mutual_info}]
"""


def test_multiple_choice_requests_and_lm_eval_metrics(tmp_path):
    task = write_task(tmp_path, MC_YAML)
    docs = task.docs(DataSource())
    assert task.name == "my_piqa" and len(docs) == 3
    requests = task.requests(docs[2], 2, seed=0)
    assert requests == [LoglikelihoodRequest("Question: Boil water\nAnswer:", " freeze it"),
                        LoglikelihoodRequest("Question: Boil water\nAnswer:", " heat it"),
                        LoglikelihoodRequest("", " freeze it"), LoglikelihoodRequest("", " heat it")]
    # acc picks "freeze it" (-1.0), acc_norm divides by len("freeze it") = 9 vs len("heat it") = 7,
    # acc_mutual_info subtracts the unconditional log-likelihoods
    sample = task.process(docs[2], 2, 0, answer(requests, (-1.0, -1.2, -0.5, -5.0)))
    assert sample.metrics == {"acc": 0.0, "acc_norm": 0.0, "acc_mutual_info": 1.0} and sample.prediction == 0
    sample = task.process(docs[2], 2, 0, answer(requests, (-1.0, -0.75, -0.5, -5.0)))
    assert sample.metrics["acc"] == 1.0 and sample.metrics["acc_norm"] == 1.0
    record = task.protocol_dict()
    assert record["headline_metric"] == "acc" and len(record["prompt_hash"]) == 64


def test_fewshot_description_delimiters_and_choice_text_target(tmp_path):
    task = write_task(tmp_path, MC_YAML.replace("doc_to_target: label", "doc_to_target: \"{{sol2}}\"")
                      + "num_fewshot: 1\ntarget_delimiter: \"\\t\"\nfewshot_delimiter: \"\\n###\\n\"\n"
                        "description: \"About {{goal}}:\\n\"\n")
    docs = task.docs(DataSource())
    context = task.requests(docs[0], 0, seed=1234)[0].context
    # lm-eval's default sampler: one Random(1234) over the documents in order; the pool is the test split,
    # so one extra is drawn and the document itself dropped
    import random
    drawn = [d for d in random.Random(1234).sample(docs, 2) if d != docs[0]][:1]
    assert context == f"About Open a jar:\nQuestion: {drawn[0]['goal']}\nAnswer:\t{drawn[0]['sol2']}\n###\n" \
                      "Question: Open a jar\nAnswer:"
    sample = task.process(docs[0], 0, 1234, answer(task.requests(docs[0], 0, 1234), (-2.0, -1.0, -1.0, -1.0)))
    assert sample.target == "shake it" and sample.metrics["acc"] == 1.0 and sample.extra["num_fewshot"] == 1


GSM_ROWS = [{"question": "2+2?", "answer": "so #### 4"}, {"question": "1,000+1?", "answer": "#### 1,001"}]
GEN_YAML = DATA + """
task: arith
output_type: generate_until
doc_to_text: "Q: {{question}}\\nA:"
doc_to_target: "{{answer}}"
generation_kwargs: {until: ["Q:"], do_sample: false, max_gen_toks: 16}
repeats: 3
metric_list:
  - metric: exact_match
    ignore_case: true
    regexes_to_ignore: [",", "(?s).*#### "]
filter_list:
  - name: strict-match
    filter: [{function: regex, regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"}, {function: take_first}]
  - name: vote
    filter: [{function: regex, group_select: -1, regex_pattern: "(-?[0-9.,]+)"}, {function: majority_vote},
             {function: take_first}]
"""


def test_generate_until_filters_and_exact_match_options(tmp_path):
    task = write_task(tmp_path, GEN_YAML, rows=GSM_ROWS)
    docs = task.docs(DataSource())
    (request,) = task.requests(docs[1], 1, seed=5)
    assert request == GenerateRequest("Q: 1,000+1?\nA:", until=("Q:",), max_new_tokens=16, n=3, seed=5)
    texts = (" it is #### 1,001", " 7 then 1001", " 1001")
    sample = task.process(docs[1], 1, 5, [Answer(request, GenerateResult(texts))])
    assert sample.extra["filtered_resps"] == {"strict-match": "1,001", "vote": "1001"}
    assert sample.metrics == {"exact_match,strict-match": 1.0, "exact_match,vote": 1.0}
    assert task.protocol_dict()["headline_metric"] == "exact_match,strict-match"


def test_loglikelihood_rolling_reads_doc_to_target(tmp_path):
    task = write_task(tmp_path, DATA + "task: ppl\noutput_type: loglikelihood_rolling\ndoc_to_text: ''\n"
                                       "doc_to_target: goal\n")
    docs = task.docs(DataSource())
    assert task.requests(docs[0], 0, seed=0) == [RollingLoglikelihoodRequest("Open a jar")]
    samples = [task.process(d, i, 0, [Answer(task.requests(d, i, seed=0)[0], RollingLoglikelihoodResult(-6.0, 3))])
               for i, d in enumerate(docs)]
    found = task.aggregate(samples)
    assert found["word_perplexity"] == pytest.approx(math.exp(18 / 7))  # 7 words
    assert found["bits_per_byte"] == pytest.approx(18 / 29 / math.log(2))  # 29 bytes


def test_include_function_and_process_docs(tmp_path):
    (tmp_path / "helpers.py").write_text("def process_docs(ds):\n    return ds.map(lambda d: {'q': d['goal'].upper()})\n"
                                         "def text(doc):\n    return 'Q: ' + doc['q']\n")
    (tmp_path / "_template_yaml").write_text(DATA + "output_type: multiple_choice\ndoc_to_choice: ['no', 'yes']\n"
                                             "doc_to_target: label\nprocess_docs: !function helpers.process_docs\n")
    task = write_task(tmp_path, "include: _template_yaml\ntask: shout\ndoc_to_text: !function helpers.text\n")
    docs = task.docs(DataSource())
    assert task.requests(docs[0], 0, seed=0)[0] == LoglikelihoodRequest("Q: OPEN A JAR", " no")


def test_group_weight_by_size_and_tag(tmp_path):
    rows_b = ROWS[:1]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b.jsonl").write_text(json.dumps(rows_b[0]) + "\n")
    write_task(tmp_path, MC_YAML.replace("task: my_piqa", "task: a\ntag: [both]"), name="a.yaml")
    (tmp_path / "b.yaml").write_text(MC_YAML.replace("task: my_piqa", "task: b\ntag: both")
                                     .replace("data/rows.jsonl", "data/b.jsonl"))
    (tmp_path / "_group.yaml").write_text("group: ab\ntask: [both]\naggregate_metric_list:\n"
                                          "  - {metric: acc, weight_by_size: true}\n")
    assert [t.name for t in load_from_folder("both", tmp_path)] == ["a", "b"]
    (group,) = resolve_tasks("ab", tmp_path)
    docs = group.docs(DataSource())
    assert len(docs) == 4
    samples = [group.process(d, i, 0, answer(group.requests(d, i, 0), (-1.0, -2.0, -1.0, -1.0)))
               for i, d in enumerate(docs)]  # the first choice everywhere: a 2 of 3, b 1 of 1
    found = group.aggregate(samples)
    assert found["acc_a"] == pytest.approx(2 / 3) and found["acc_b"] == 1.0
    assert found["acc"] == pytest.approx(3 / 4)  # weighted by size; unweighted would be 5/6


@pytest.mark.parametrize("text, key", [
    (MC_YAML + "doc_to_txt: x\n", "unknown key"),
    (MC_YAML + "process_docs: !function nowhere.fn\n", "process_docs: !function nowhere.fn"),
    (MC_YAML.replace("metric: acc}", "metric: accuracy}"), "key metric_list: unknown metric 'accuracy'"),
    (GEN_YAML.replace("function: take_first}", "function: take_last}"), "key filter_list: unknown filter"),
    ("include: missing.yaml\n" + MC_YAML, "key include: no file"),
    (MC_YAML.replace("{{goal}}", "{{goal"), "key doc_to_text: Jinja syntax error"),
    (MC_YAML.replace("output_type: multiple_choice", "output_type: choose"), "key output_type"),
])
def test_bad_files_say_file_and_key(tmp_path, text, key):
    with pytest.raises(UsageError, match=None) as error:
        write_task(tmp_path, text, rows=GSM_ROWS if "arith" in text else ROWS)
    assert str(tmp_path / "task.yaml") in str(error.value) and key in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_field_names_file_and_key(tmp_path):
    task = write_task(tmp_path, MC_YAML.replace("{{goal}}", "{{goall}}"))
    with pytest.raises(DataError, match="task.yaml: key doc_to_text: 'goall' is undefined"):
        task.requests(task.docs(DataSource())[0], 0, seed=0)


def test_a_task_file_named_as_a_paper_task_fills_no_paper_cell(tmp_path):
    """A YAML task named `piqa` (lm-eval's protocol, not the paper's) is reported outside the paper's tables."""
    import subprocess
    import sys

    from conftest import REPO
    write_task(tmp_path, MC_YAML.replace("task: my_piqa", "task: piqa"), name="piqa.yaml")
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--include-path",
                           str(tmp_path), "--tasks", "piqa", "--no-progress", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["protocol"]["piqa"]["lm_eval"] and set(result["results"]["piqa"]) >= {"acc", "acc_norm"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Table 3" not in report and "No result fills a cell" in report
    assert "| piqa " in report.split("## Tasks outside the paper's tables")[1]


def test_custom_dataset_builds_the_splits(tmp_path):
    (tmp_path / "build.py").write_text("def rows(size=2, **kwargs):\n"
                                       "    return {'test': [{'goal': f'g{i}', 'label': i % 2} for i in range(size)]}\n")
    task = write_task(tmp_path, "task: built\ncustom_dataset: !function build.rows\nmetadata: {size: 3}\n"
                                "test_split: test\noutput_type: multiple_choice\ndoc_to_text: goal\n"
                                "doc_to_choice: ['a', 'b']\ndoc_to_target: label\n")
    assert [d["goal"] for d in task.docs(DataSource())] == ["g0", "g1", "g2"]


def test_relative_data_files_are_read_from_the_working_folder_as_lm_eval_reads_them(tmp_path, monkeypatch):
    folder = tmp_path / "tasks"
    folder.mkdir()
    task = write_task(folder, MC_YAML)  # its data/rows.jsonl lies beside the task file, not in the working folder
    with pytest.raises(UsageError) as refused:
        task.docs(DataSource())
    assert str(refused.value) == (f"{folder / 'task.yaml'}: key dataset_kwargs.data_files: data/rows.jsonl is not in "
                                  f"the working folder {tmp_path} (where lm-eval reads it) but is beside the task "
                                  f"file, {folder / 'data/rows.jsonl'}: run from {folder} or give the path from "
                                  "the working folder")
    monkeypatch.chdir(folder)
    assert len(get_task(str(folder / "task.yaml")).docs(DataSource())) == 3
