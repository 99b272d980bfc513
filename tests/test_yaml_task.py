"""User tasks from YAML (lm-eval key names) build the expected requests."""
import json
import math

import pytest

from evalkit.errors import DataError, UsageError
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)
from evalkit.task import Answer, DataSource
from tasks import get_task

ROWS = [{"goal": "Open a jar", "sol1": "twist the lid", "sol2": "shake it", "label": 0},
        {"goal": "Dry hands", "sol1": "use a towel", "sol2": "use a spoon", "label": 0},
        {"goal": "Boil water", "sol1": "freeze it", "sol2": "heat it", "label": 1}]


def write_task(tmp_path, text, rows=ROWS):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return get_task(str(path))


MC_YAML = """
task: my_piqa
data_files: data/rows.jsonl
output_type: multiple_choice
doc_to_text: "Question: {{goal}}\\nAnswer:"
doc_to_choice: "{{[sol1, sol2]}}"
doc_to_target: label
normalizer: answer
"""


def test_multiple_choice_requests_and_scores(tmp_path):
    task = write_task(tmp_path, MC_YAML)
    docs = task.docs(DataSource())
    assert task.name == "my_piqa" and len(docs) == 3
    requests = task.requests(docs[2], 2, seed=0)
    assert requests == [LoglikelihoodRequest("Question: Boil water\nAnswer:", " freeze it"),
                        LoglikelihoodRequest("Question: Boil water\nAnswer:", " heat it"),
                        LoglikelihoodRequest("Answer:", " freeze it"), LoglikelihoodRequest("Answer:", " heat it")]
    answers = [Answer(r, LoglikelihoodResult(v, 1, False)) for r, v in zip(requests, (-1.0, -2.0, -0.5, -5.0))]
    sample = task.process(docs[2], 2, 0, answers)
    assert sample.metrics == {"acc": 0.0, "acc_char": 0.0, "acc_answer": 1.0} and sample.prediction == 1
    record = task.protocol_dict()
    assert record["headline_metric"] == "acc_answer" and len(record["prompt_hash"]) == 64


def test_fewshot_and_choice_text_target(tmp_path):
    task = write_task(tmp_path, MC_YAML.replace("doc_to_target: label", "doc_to_target: \"{{sol2}}\"")
                      + "num_fewshot: 1\ntarget_delimiter: \"\\t\"\n")
    docs = task.docs(DataSource())
    context = task.requests(docs[0], 0, seed=3)[0].context
    shot = context.split("\n\n")[0]
    assert shot in ("Question: Dry hands\nAnswer:\tuse a spoon", "Question: Boil water\nAnswer:\theat it")
    assert context.endswith("\n\nQuestion: Open a jar\nAnswer:")
    assert task.gold(docs[0]) == 1


def test_generate_until(tmp_path):
    task = write_task(tmp_path, """
task: echo
data_files: {test: data/rows.jsonl}
output_type: generate_until
doc_to_text: "Q: {{goal}}\\nA:"
doc_to_target: sol1
generation_kwargs: {until: ["\\n"], max_gen_toks: 16}
""")
    doc = task.docs(DataSource())[0]
    requests = task.requests(doc, 0, seed=5)
    assert requests == [GenerateRequest("Q: Open a jar\nA:", until=("\n",), max_new_tokens=16, seed=5)]
    sample = task.process(doc, 0, 5, [Answer(requests[0], GenerateResult((" twist the lid",)))])
    assert sample.metrics == {"exact_match": 1.0} and sample.prompt == "Q: Open a jar\nA:"


def test_loglikelihood_rolling(tmp_path):
    task = write_task(tmp_path, "task: ppl\ndata_files: data/rows.jsonl\noutput_type: loglikelihood_rolling\n"
                                "doc_to_text: goal\n")
    docs = task.docs(DataSource())
    assert task.requests(docs[0], 0, seed=0) == [RollingLoglikelihoodRequest("Open a jar")]
    samples = [task.process(d, i, 0, [Answer(task.requests(d, i, seed=0)[0], RollingLoglikelihoodResult(-6.0, 3))])
               for i, d in enumerate(docs)]
    assert task.aggregate(samples)["word_perplexity"] == pytest.approx(math.exp(18 / 7))  # 7 words


def test_bad_key_and_missing_field(tmp_path):
    with pytest.raises(UsageError, match="unknown key"):
        write_task(tmp_path, MC_YAML + "doc_to_txt: x\n")
    task = write_task(tmp_path, MC_YAML.replace("{{goal}}", "{{goall}}"))
    with pytest.raises(DataError, match="goall"):
        task.requests(task.docs(DataSource())[0], 0, seed=0)
