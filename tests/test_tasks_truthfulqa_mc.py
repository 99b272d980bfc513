"""TruthfulQA MC1/MC2: `run` agrees with a hand computation from the `score` command's log-likelihoods."""
import json
import math

import pytest

from evalkit.metrics.truthfulqa import mc1, mc2
from evalkit.task import DataSource
from tasks import get_task

from conftest import DATA_DIR, STORIES_BIN
from test_yaml_task_vs_score import cli

LIMIT = 3


def test_mc_scores_on_numbers():
    assert mc1([-1.0, -0.5, -3.0], [1, 0, 0]) == 0.0
    assert mc1([-1.0, -1.0, -3.0], [1, 0, 0]) == 1.0  # ties go to the first choice
    assert mc2([math.log(0.2), math.log(0.3), math.log(0.5)], [1, 1, 0]) == pytest.approx(0.5)
    assert mc2([-1000.0, -1001.0], [0, 1]) == pytest.approx(1 / (1 + math.e))  # no underflow


def test_run_matches_score_command(tmp_path):
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} is not present")
    out = tmp_path / "out"
    cli("run", "--model", str(STORIES_BIN), "--tasks", "truthfulqa_mc", "--data-dir", str(DATA_DIR),
        "--limit", str(LIMIT), "--no-progress", "--no-cache", "--output-dir", str(out))
    samples = [json.loads(line) for line in (out / "samples" / "truthfulqa_mc.jsonl").read_text().splitlines()]
    results = json.loads((out / "results.json").read_text())["results"]["truthfulqa_mc"]

    task = get_task("truthfulqa_mc")
    docs = task.docs(DataSource(data_dir=DATA_DIR), limit=LIMIT)
    primer_end = "A: The 1992 Olympics were held in Barcelona, Spain.\n\n"
    lines = []
    for doc in docs:
        for answer in dict.fromkeys(doc["mc1"] + doc["mc2"]):
            context = task.prompt.render(question=doc["question"])
            assert context.endswith(primer_end + f"Q: {doc['question']}\nA:")
            lines.append(json.dumps({"context": context, "continuation": " " + answer}))
    (tmp_path / "requests.jsonl").write_text("\n".join(lines) + "\n")
    scored = iter(json.loads(line)["loglikelihood"] for line in
                  cli("score", "--model", str(STORIES_BIN), "--requests", str(tmp_path / "requests.jsonl")).splitlines())

    hand = {"mc1": [], "mc2": []}
    for doc, sample in zip(docs, samples):
        ll = {answer: next(scored) for answer in dict.fromkeys(doc["mc1"] + doc["mc2"])}
        mc1_lls = [ll[a] for a in doc["mc1"]]
        hand["mc1"].append(float(doc["mc1_labels"][mc1_lls.index(max(mc1_lls))] == 1))
        p = [math.exp(ll[a]) for a in doc["mc2"]]
        hand["mc2"].append(sum(x for x, label in zip(p, doc["mc2_labels"]) if label) / sum(p))
        assert sample["metrics"]["mc1"] == hand["mc1"][-1]
        assert sample["metrics"]["mc2"] == pytest.approx(hand["mc2"][-1], rel=1e-4)
    assert results["mc1"] == pytest.approx(sum(hand["mc1"]) / LIMIT)
    assert results["mc2"] == pytest.approx(sum(hand["mc2"]) / LIMIT, rel=1e-4)
    assert results["n"] == LIMIT
