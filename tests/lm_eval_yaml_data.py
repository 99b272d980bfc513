"""Local data for the lm-eval task files in tests/fixtures/lm_eval_yaml: the first rows of the authors'
files (../shared/data) written as JSON lines in each Hub dataset's schema, under FOLDER/data/<task>/."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import DATA_DIR, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from lm_eval_tasks import _read_jsonl, arc_easy_rows, hellaswag_rows, mmlu_rows, piqa_rows  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "lm_eval_yaml"


def boolq_rows(data: Path) -> dict[str, list[dict]]:
    """aps/super_glue (boolq)'s schema: question, passage, idx, label (1 = yes)."""
    return {"validation": [{"question": d["question"], "passage": d["passage"], "idx": i, "label": int(d["answer"])}
                           for i, d in enumerate(_read_jsonl(data / "boolq" / "dev.jsonl"))]}


def winogrande_rows(data: Path) -> dict[str, list[dict]]:
    """allenai/winogrande's schema: sentence, option1, option2, answer ("1" or "2")."""
    folder = data / "winogrande" / "winogrande_1.1"
    labels = (folder / "dev-labels.lst").read_text().split()
    return {"validation": [{"sentence": d["sentence"], "option1": d["option1"], "option2": d["option2"],
                            "answer": label} for d, label in zip(_read_jsonl(folder / "dev.jsonl"), labels, strict=True)]}


def gsm8k_rows(data: Path) -> dict[str, list[dict]]:
    """openai/gsm8k (main)'s schema: question, answer. The train split (the shots) in order of length, so
    that 5-shot prompts and 256 new tokens fit a 2048-token window with a 512-token vocabulary (lm-eval
    would cut a longer prompt from the left, evalkit would give generation less room)."""
    splits = {split: [{"question": d["question"], "answer": d["answer"]} for d in _read_jsonl(data / "gsm8k" /
                                                                                           f"{split}.jsonl")]
              for split in ("test", "train")}
    splits["train"].sort(key=lambda d: len(d["question"]) + len(d["answer"]))
    return splits


def astronomy_rows(data: Path) -> dict[str, list[dict]]:
    """MMLU astronomy with 3 test questions: fewer than the other subject of group mmlu_stem, so that
    weighting by size (the group's rule) and one vote per subject give different numbers."""
    rows = mmlu_rows(data, "astronomy")
    return rows | {"test": rows["test"][:3]}


ROWS = {"piqa": piqa_rows, "arc_easy": arc_easy_rows, "boolq": boolq_rows, "hellaswag": hellaswag_rows,
        "winogrande": winogrande_rows, "mmlu_anatomy": lambda data: mmlu_rows(data, "anatomy"),
        "mmlu_astronomy": lambda data: astronomy_rows(data), "gsm8k": gsm8k_rows}


def write_data(folder: Path, rows: int, data: Path = DATA_DIR) -> None:
    """The first `rows` rows of each split of every fixture task, under folder/data/<task>/<split>.jsonl."""
    for task, read in ROWS.items():
        for split, found in read(data).items():
            path = folder / "data" / task / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(row) + "\n" for row in found[:rows]), encoding="utf-8")
