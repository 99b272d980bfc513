"""lm-eval's own task files (copies of lm-eval 0.4.13's YAMLs in tests/fixtures/lm_eval_yaml, pointed at
local JSON) run in evalkit as in lm-eval: the same model folder (the tiny preset, random weights, in
transformers' format) through lm-eval's HF backend and through evalkit, the same documents; every metric
equal, the same prompts, each choice's log-likelihood within 1e-4, identical generations and filtered
answers (also through a filter a task's own module registers in lm-eval's registry), and groups (MMLU's
stock mmlu_stem over two subjects, and a group of it) reported as lm-eval reports them. Runs only where
lm-eval is installed and ../shared is present.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, STORIES_DIR, needs_shared

pytestmark = needs_shared
pytest.importorskip("lm_eval")

ASKED = ["piqa", "arc_easy", "boolq", "hellaswag", "winogrande", "mmlu_stem_nested", "gsm8k", "piqa_own_filter"]
TASKS = ["piqa", "arc_easy", "boolq", "hellaswag", "winogrande", "mmlu_anatomy", "mmlu_astronomy", "gsm8k",
         "piqa_own_filter"]
GENERATING = ["gsm8k", "piqa_own_filter"]  # piqa_own_filter: a filter its own module registers in lm-eval
GROUP = "mmlu_stem"  # lm-eval's group file: the tasks of tag mmlu_stem_tasks (anatomy, astronomy), by size
NESTED = "mmlu_stem_nested"  # a group of that group, one vote per task
LIMIT = 5
SIZES = {"mmlu_astronomy": 3}  # documents where the data has fewer than LIMIT


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from lm_eval_yaml_data import FIXTURES, write_data
    sys.path.insert(0, str(REPO / "benchmarks"))
    from hf_checkpoint import write_random_model

    work = tmp_path_factory.mktemp("yaml_vs_lm_eval")
    folder = work / "tasks"
    shutil.copytree(FIXTURES, folder)
    write_data(folder, rows=20)
    model = write_random_model(STORIES_DIR / "tok512.model", work / "model", "tiny")
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               HF_DATASETS_CACHE=str(work / "hf_datasets"), OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    commands = {
        "lm-eval": [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                    f"pretrained={model},dtype=float32", "--tasks", ",".join(ASKED), "--include_path", str(folder),
                    "--limit", str(LIMIT), "--batch_size", "1", "--device", "cpu", "--log_samples",
                    "--output_path", str(work / "lm_eval")],
        "evalkit": [sys.executable, str(REPO / "run_eval.py"), "run", "--model", str(model), "--include-path",
                    str(folder), "--tasks", ",".join(ASKED), "--limit", str(LIMIT), "--dtype", "float32",
                    "--no-progress", "--output-dir", str(work / "evalkit")]}
    # generated texts through transformers' tokenizer, as lm-eval decodes them (evalkit's own SentencePiece
    # decoder writes a lone byte token as that byte, transformers' as U+FFFD: the tiny model's babble has many)
    commands["evalkit-hf"] = commands["evalkit"][:5] + ["--backend", "hf", "--include-path", str(folder), "--tasks",
                                                       ",".join(GENERATING), "--limit", str(LIMIT), "--dtype", "float32",
                                                       "--no-progress", "--output-dir", str(work / "evalkit-hf")]
    for name, command in commands.items():  # lm-eval reads relative data_files from the working folder
        proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{name}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    (lm_folder,) = (work / "lm_eval").iterdir()
    lm_results = json.loads(next(lm_folder.glob("results_*.json")).read_text())
    theirs = {"results": lm_results["results"], "group_subtasks": lm_results["group_subtasks"],
              "samples": {task: [json.loads(line) for line in next(lm_folder.glob(f"samples_{task}_[0-9]*.jsonl"))
                                 .read_text().splitlines()] for task in TASKS}}
    our_results = json.loads((work / "evalkit" / "results.json").read_text())
    ours = {"results": our_results["results"], "group_subtasks": our_results["group_subtasks"],
            "samples": {task: [json.loads(line) for line in (work / "evalkit" / "samples" / f"{task}.jsonl")
                               .read_text().splitlines()] for task in TASKS}}
    ours["generations"] = {task: [json.loads(line) for line in (work / "evalkit-hf" / "samples" / f"{task}.jsonl")
                                  .read_text().splitlines()] for task in GENERATING}
    ours["folder"] = folder
    return ours, theirs


def test_every_metric_equal(runs):
    ours, theirs = runs
    for task in TASKS:
        lm = {key.replace(",none", ""): value for key, value in theirs["results"][task].items()
              if "," in key and "_stderr" not in key}
        mine = {key: value for key, value in ours["results"][task].items()
                if not key.endswith("_stderr") and key not in ("n", "n_total")}
        assert lm and mine == pytest.approx(lm, abs=1e-12), task
        assert ours["results"][task]["n"] == theirs["results"][task]["sample_len"] == SIZES.get(task, LIMIT)


def test_group_entry_as_lm_eval_writes_it(runs):
    ours, theirs = runs
    assert ours["group_subtasks"][GROUP] == theirs["group_subtasks"][GROUP] == ["mmlu_anatomy", "mmlu_astronomy"]
    assert ours["results"][GROUP]["acc"] == pytest.approx(theirs["results"][GROUP]["acc,none"], abs=1e-12)
    assert ours["results"][GROUP]["n"] == theirs["results"][GROUP]["sample_len"] == LIMIT + SIZES["mmlu_astronomy"]
    anatomy, astronomy = (ours["results"][task]["acc"] for task in theirs["group_subtasks"][GROUP])
    assert ours["results"][GROUP]["acc"] == pytest.approx((LIMIT * anatomy + 3 * astronomy) / (LIMIT + 3))
    assert ours["group_subtasks"][NESTED] == theirs["group_subtasks"][NESTED] == [GROUP]
    assert ours["results"][NESTED]["acc"] == pytest.approx(theirs["results"][NESTED]["acc,none"], abs=1e-12)
    assert ours["results"][NESTED]["acc"] == pytest.approx((anatomy + astronomy) / 2)  # every task, one vote


@pytest.mark.parametrize("group", [GROUP, NESTED])
def test_group_stderr_formula_as_lm_eval(runs, group):
    """evalkit's member stderrs are bootstrap estimates, lm-eval's analytic: the group's formula is checked
    on lm-eval's own member numbers (pooled by size for mmlu_stem, unweighted for the nested group)."""
    from evalkit.task_kinds.yaml_format.catalogue import load

    ours, theirs = runs
    entries = {task: {"acc": theirs["results"][task]["acc,none"], "acc_stderr": theirs["results"][task]["acc_stderr,none"],
                      "n": theirs["results"][task]["sample_len"]} for task in theirs["group_subtasks"][GROUP]}
    found = load(group, ours["folder"]).results(entries)
    assert found["acc"] == pytest.approx(theirs["results"][group]["acc,none"], abs=1e-12)
    assert found["acc_stderr"] == pytest.approx(theirs["results"][group]["acc_stderr,none"], abs=1e-12)


def test_prompts_and_loglikelihoods_agree(runs):
    ours, theirs = runs
    for task in (t for t in TASKS if t not in GENERATING):
        for mine, lm in zip(ours["samples"][task], theirs["samples"][task], strict=True):
            requests = list(lm["arguments"].values())
            assert mine["prompt"] == requests[0]["arg_0"], (task, mine["doc_id"])
            lm_lls = [float(r[0]) for r in lm["filtered_resps"]]
            assert mine["loglikelihoods"] == pytest.approx(lm_lls, abs=1e-4), (task, mine["doc_id"])
            assert max(abs(a - b) for a, b in zip(mine["loglikelihoods"], lm_lls)) < 1e-4


@pytest.mark.parametrize("task, filters", [("gsm8k", {"strict-match", "flexible-extract"}),
                                           ("piqa_own_filter", {"last-word"})])
def test_generations_and_filters_identical(runs, task, filters):
    ours, theirs = runs
    by_filter: dict[str, list] = {}
    for lm in theirs["samples"][task]:
        by_filter.setdefault(lm["filter"], []).append(lm)
    assert set(by_filter) == filters
    for name, rows in by_filter.items():
        for mine, hf, lm in zip(ours["samples"][task], ours["generations"][task], rows, strict=True):
            assert mine["prompt"] == hf["prompt"] == lm["arguments"]["gen_args_0"]["arg_0"]
            # lm-eval's HF backend decodes the new tokens alone, which drops SentencePiece's word-start space
            # of the first one; evalkit keeps it (the text as it continues the prompt)
            (text,), (theirs,) = hf["resps"], lm["resps"][0]
            assert text == theirs or text.startswith(" ") and text[1:] == theirs, mine["doc_id"]
            assert hf["filtered_resps"][name] == lm["filtered_resps"][0], (name, mine["doc_id"])
