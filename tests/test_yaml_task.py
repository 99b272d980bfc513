"""User tasks in lm-eval's YAML format build lm-eval's requests and score them with lm-eval's metrics,
filters and groups; bad files stop with one line naming the file and the key."""
import json
import math
import sys

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


REGISTERING_MODULE = """from lm_eval.api.filter import Filter
from lm_eval.api.registry import register_filter


@register_filter("evalkit_test_last_number")
class LastNumber(Filter):
    def __init__(self, strip_commas=False):
        self.strip_commas = strip_commas

    def apply(self, resps, docs):
        def last(text):
            words = [w for w in text.split() if w.replace(",", "").isdigit()]
            return (words[-1].replace(",", "") if self.strip_commas else words[-1]) if words else "[none]"
        return [[last(r) for r in rs] for rs in resps]


def text(doc):
    return "Q: " + doc["question"] + "\\nA:"
"""


def test_filter_registered_by_the_tasks_own_module(tmp_path):
    pytest.importorskip("lm_eval")
    (tmp_path / "own_filters.py").write_text(REGISTERING_MODULE)
    filtered = GEN_YAML.replace('"Q: {{question}}\\nA:"', "!function own_filters.text").split("filter_list:")[0] + \
        "filter_list:\n  - name: last\n    filter: [{function: evalkit_test_last_number, strip_commas: true}, " \
        "{function: majority_vote}, {function: take_first}]\n"
    task = write_task(tmp_path, filtered, rows=GSM_ROWS)  # the module registers the filter as it is imported
    docs = task.docs(DataSource())
    (request,) = task.requests(docs[1], 1, seed=5)
    assert request.context == "Q: 1,000+1?\nA:"
    texts = (" it is 1,001", " 7 then 1001", " no")
    sample = task.process(docs[1], 1, 5, [Answer(request, GenerateResult(texts))])
    assert sample.extra["filtered_resps"] == {"last": "1001"} and sample.metrics == {"exact_match,last": 1.0}


def test_unregistered_filter_names_the_file_and_key(tmp_path):
    with pytest.raises(UsageError) as error:
        write_task(tmp_path, GEN_YAML.replace("function: take_first}", "function: evalkit_test_nowhere}"),
                   rows=GSM_ROWS)
    assert f"{tmp_path / 'task.yaml'}: key filter_list: " in str(error.value) and "evalkit_test_nowhere" in str(error.value)


def test_without_lm_eval_a_registering_module_says_so(tmp_path, monkeypatch):
    for name in [n for n in sys.modules if n == "lm_eval" or n.startswith("lm_eval.")] + ["lm_eval"]:
        monkeypatch.setitem(sys.modules, name, None)  # what the import system does where lm-eval is not installed
    (tmp_path / "own_filters.py").write_text(REGISTERING_MODULE)
    with pytest.raises(UsageError) as error:
        write_task(tmp_path, GEN_YAML.replace('"Q: {{question}}\\nA:"', "!function own_filters.text"), rows=GSM_ROWS)
    assert str(error.value) == f"{tmp_path / 'task.yaml'}: key doc_to_text: !function own_filters.text: the module " \
                               "imports lm_eval (lm-eval's registries), not installed here: pip install lm-eval"
    with pytest.raises(UsageError) as error:  # a filter name only a task's module could have registered
        write_task(tmp_path, GEN_YAML.replace("function: take_first}", "function: ACP_grammar_filter}"), rows=GSM_ROWS)
    assert str(error.value).startswith(f"{tmp_path / 'task.yaml'}: key filter_list: unknown filter 'ACP_grammar_filter'")
    assert str(error.value).endswith("lm-eval's filter registry; that module imports lm_eval: pip install lm-eval)")


def test_a_package_the_module_needs_is_named(tmp_path):
    (tmp_path / "needy.py").write_text("import evalkit_test_absent_package\n\ndef text(doc):\n    return ''\n")
    with pytest.raises(UsageError, match="!function needy.text: the module needs the package "
                                         "evalkit_test_absent_package, not installed here$"):
        write_task(tmp_path, GEN_YAML.replace('"Q: {{question}}\\nA:"', "!function needy.text"), rows=GSM_ROWS)


SPANS = ["Person: Kofi Annan, none $$ Location: Ghana", "PER: a\nLOC: kenya, uganda", "ORGANIZATION: UN $$ date: 1999$$",
         "persons: x, y $$ counties: z", "nothing here", "Time: noon $$ per: none", "company:Acme $ country : Mali"]


def test_format_span_as_lm_eval():
    from evalkit.task_kinds.yaml_format.filters import STEPS
    assert STEPS["format_span"]()(SPANS, {})[:2] == ["per: kofi annan $ loc: ghana", "per: a $ loc: kenya $ loc: uganda"]
    transformation = pytest.importorskip("lm_eval.filters.transformation")
    assert STEPS["format_span"]()(SPANS, {}) == transformation.SPANFilter().apply([SPANS], [{}])[0]


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


def test_tag_runs_its_tasks(tmp_path):
    write_task(tmp_path, MC_YAML.replace("task: my_piqa", "task: a\ntag: [both]"), name="a.yaml")
    (tmp_path / "b.yaml").write_text(MC_YAML.replace("task: my_piqa", "task: b\ntag: both"))
    assert [t.name for t in load_from_folder("both", tmp_path)] == ["a", "b"]


def write_groups(tmp_path):
    """Three tasks on 3, 1 and 2 documents; group `ab` (a, b by size), group `outer` (ab and c, one vote
    per task), written as lm-eval's group files."""
    (tmp_path / "data").mkdir()
    for name, rows in (("a", ROWS), ("b", ROWS[2:]), ("c", ROWS[:2])):
        (tmp_path / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (tmp_path / f"{name}.yaml").write_text(MC_YAML.replace("task: my_piqa", f"task: {name}")
                                               .replace("data/rows.jsonl", f"data/{name}.jsonl"))
    (tmp_path / "_ab.yaml").write_text("group: ab\ntask: [a, b]\naggregate_metric_list:\n"
                                       "  - {metric: acc, weight_by_size: true}\n")
    (tmp_path / "_outer.yaml").write_text("group: outer\ngroup_alias: Outer\ntask: [ab, c]\n"
                                          "aggregate_metric_list:\n  - {metric: acc_norm, weight_by_size: false}\n"
                                          "  - metric: acc\n")


def test_groups_report_their_tasks_and_lm_evals_aggregates(tmp_path):
    import evalkit

    write_groups(tmp_path)
    out = tmp_path / "out"
    document = evalkit.evaluate(model="tiny", tasks="outer", include_path=tmp_path, output_dir=out,
                                no_progress=True, batch_size=4)
    assert document == json.loads((out / "results.json").read_text())
    results, protocol = document["results"], document["protocol"]
    assert list(results) == ["outer", "ab", "a", "b", "c"]  # a group before its first task
    assert document["group_subtasks"] == {"outer": ["ab", "c"], "ab": ["a", "b"]}
    assert document["groups"] == {"outer": results["outer"], "ab": results["ab"]}
    for task, n in (("a", 3), ("b", 1), ("c", 2)):  # each task its own entry, samples file and protocol
        assert results[task]["n"] == n and {"acc", "acc_norm"} <= set(results[task])
        assert len((out / "samples" / f"{task}.jsonl").read_text().splitlines()) == n
        assert len(protocol[task]["prompt_hash"]) == 64 and protocol[task]["num_fewshot"] == 0
    a, b, c = (results[t] for t in "abc")
    assert results["ab"]["acc"] == pytest.approx((3 * a["acc"] + b["acc"]) / 4)  # weight_by_size
    assert set(results["ab"]) == {"acc", "n", "n_total"}  # b has 1 document, so no stderr: neither has ab
    assert results["ab"]["n"] == 4 and protocol["ab"]["headline_metric"] == "acc"
    # a group aggregates over every task it holds, through its subgroups (lm-eval 0.4.13): one vote each
    assert results["outer"]["acc_norm"] == pytest.approx((a["acc_norm"] + b["acc_norm"] + c["acc_norm"]) / 3)
    assert results["outer"]["acc"] == pytest.approx((3 * a["acc"] + b["acc"] + 2 * c["acc"]) / 6)  # default: by size
    assert protocol["outer"]["headline_metric"] == "acc_norm" and protocol["outer"]["lm_eval"]["group_alias"] == "Outer"
    rows = [[cell.strip() for cell in line.split("|")[2:-1]] for line in (out / "report.md").read_text()
            .split("## Tasks outside the paper's tables")[1].splitlines() if line.startswith("| tiny")]
    digest = {task: protocol[task]["prompt_hash"][:12] for task in "abc"}  # the sha256 of each task's file
    assert rows == [["outer", "acc_norm", f"{results['outer']['acc_norm']:.4f}", "–", "6", "–", "–"],
                    ["ab", "acc", f"{results['ab']['acc']:.4f}", "–", "4", "–", "–"],
                    ["a", "acc", f"{a['acc']:.4f}", f"{a['acc_stderr']:.4f}", "3", "0", digest["a"]],
                    ["b", "acc", f"{b['acc']:.4f}", "–", "1", "0", digest["b"]],
                    ["c", "acc", f"{c['acc']:.4f}", f"{c['acc_stderr']:.4f}", "2", "0", digest["c"]]]


def test_group_stderr_as_lm_eval_pools_it(tmp_path):
    from evalkit.task_kinds.yaml_format.catalogue import load

    write_groups(tmp_path)
    group = load("ab", tmp_path)
    entries = {"a": {"acc": 0.5, "acc_stderr": 0.2, "n": 10}, "b": {"acc": 1.0, "acc_stderr": 0.1, "n": 30}}
    found = group.results(entries)
    pooled = math.sqrt((9 * 0.04 * 10 + 29 * 0.01 * 30) / (40 - 2) / 40)  # lm-eval's pooled_sample_stderr
    assert found == {"acc": pytest.approx(0.875), "acc_stderr": pytest.approx(pooled), "n": 40}
    entries = {"a": {"exact_match,strict": 0.5, "exact_match,loose": 0.25, "exact_match,loose_stderr": 0.1,
                     "n": 2}}
    group.aggregate_metric_list = [{"metric": "exact_match", "filter_list": None, "weight_by_size": False}]
    assert group.results(entries) == {"exact_match,loose": 0.25, "exact_match,loose_stderr": 0.1,
                                      "exact_match,strict": 0.5, "n": 2}  # filters found in the tasks' keys


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
