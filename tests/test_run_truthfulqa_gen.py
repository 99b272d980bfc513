"""TruthfulQA generation: the missing-judge error before any work, and judges in GPT-judge format served
by the `openai` backend from a loopback `serve` and by the bundled backend, checked against the
`score` command's log-likelihood of " yes"."""
import json
import math
import os
import subprocess
import sys

import pytest

from conftest import DATA_DIR, REPO, STORIES_BIN
from serve_process import serving
from test_yaml_task_vs_score import cli

LIMIT = 2
BASE = ["run", "--model", str(STORIES_BIN), "--tasks", "truthfulqa_gen", "--data-dir", str(DATA_DIR),
        "--limit", str(LIMIT), "--max-new-tokens", "12", "--no-progress"]


@pytest.fixture(autouse=True)
def data():
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} is not present")


def test_missing_judge_stops_before_generating(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), *BASE, "--truth-judge", f"llama:{STORIES_BIN}",
                           "--output-dir", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: TruthfulQA generation is judged by a model: "
                                                            "give --info-judge")
    assert not out.exists()
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), *BASE, "--truth-judge", "openai:judge",
                           "--info-judge", f"llama:{STORIES_BIN}", "--output-dir", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2 and "openai:MODEL@BASE_URL" in proc.stderr


def test_judges_over_http_and_in_process_match_the_score_command(tmp_path):
    out = tmp_path / "out"
    with serving(STORIES_BIN, "--served-model-name", "truth-judge") as base_url:
        cli(*BASE, "--truth-judge", f"openai:truth-judge@{base_url}", "--info-judge", f"llama:{STORIES_BIN}",
            "--output-dir", str(out))
    samples = [json.loads(line) for line in (out / "samples" / "truthfulqa_gen.jsonl").read_text().splitlines()]
    results = json.loads((out / "results.json").read_text())
    assert len(samples) == LIMIT and all(s["prediction"] and "\nQ:" not in s["prediction"] for s in samples)

    lines = [json.dumps({"context": f"Q: {s['prompt'].rsplit('Q: ', 1)[1][:-len(chr(10) + 'A:')]}\nA: "
                                    f"{s['prediction']}\n{suffix}", "continuation": " yes"})
             for s in samples for suffix in ("True:", "Helpful:")]
    (tmp_path / "requests.jsonl").write_text("\n".join(lines) + "\n")
    scored = [json.loads(line)["loglikelihood"] for line in
              cli("score", "--model", str(STORIES_BIN), "--requests", str(tmp_path / "requests.jsonl")).splitlines()]
    for i, sample in enumerate(samples):
        p_true, p_info = math.exp(scored[2 * i]), math.exp(scored[2 * i + 1])
        assert sample["p_true"] == pytest.approx(p_true, rel=1e-3)  # through HTTP: float32 logprobs
        assert sample["p_informative"] == pytest.approx(p_info, rel=1e-4)  # batched vs alone
        assert sample["metrics"] == {"truthful": float(p_true >= 0.5), "informative": float(p_info >= 0.5),
                                     "truthful_informative": float(p_true >= 0.5 and p_info >= 0.5)}
    assert sample["judges"]["truth"].startswith(f"openai:truth-judge@{base_url}")
    assert results["scorers"]["truthfulqa_gen"]["info_judge"]["judge"].startswith(f"llama:{STORIES_BIN}")
    assert results["results"]["truthfulqa_gen"]["n"] == LIMIT
