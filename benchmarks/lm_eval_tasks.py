"""lm-eval's own tasks reading the local benchmark files (../shared/data) instead of the Hugging Face Hub.

The Hub is unreachable here, so for each task this writes the local rows in the Hub dataset's schema
(JSON lines, one file per split) and a task YAML that `include`s lm-eval's installed YAML for that task
and overrides only where the data comes from (`dataset_path: json`, `dataset_kwargs.data_files`). The
prompt, choices, target, few-shot split and sampler, and metrics stay lm-eval's own, so lm-eval runs its
piqa, arc_easy, hellaswag and mmlu_<subject> exactly as its users do, on the same documents as evalkit
(the same files, in file order, so `--limit N` takes the same first N on both sides).

The local tasks are named `<task>_local` (`mmlu_anatomy_local`); MMLU's are 5-shot as in the paper.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

LOCAL = "_local"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def piqa_rows(data: Path) -> dict[str, list[dict]]:
    """baber/piqa's schema: goal, sol1, sol2, label (int)."""
    docs = _read_jsonl(data / "piqa" / "valid.jsonl")
    labels = (data / "piqa" / "valid-labels.lst").read_text().split()
    return {"validation": [{"goal": d["goal"], "sol1": d["sol1"], "sol2": d["sol2"], "label": int(label)}
                           for d, label in zip(docs, labels, strict=True)]}


def arc_easy_rows(data: Path) -> dict[str, list[dict]]:
    """allenai/ai2_arc's schema: id, question (text), choices {text, label}, answerKey."""
    rows = []
    for d in _read_jsonl(data / "arc" / "ARC-Easy" / "ARC-Easy-Test.jsonl"):
        choices = d["question"]["choices"]
        rows.append({"id": d["id"], "question": d["question"]["stem"], "answerKey": d["answerKey"],
                     "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]}})
    return {"test": rows}


def hellaswag_rows(data: Path) -> dict[str, list[dict]]:
    """Rowan/hellaswag's schema: the authors' fields as they are (label as a string, as on the Hub)."""
    return {"validation": [d | {"label": str(d["label"])} for d in _read_jsonl(data / "hellaswag" /
                                                                             "hellaswag_val.jsonl.gz")]}


def mmlu_rows(data: Path, subject: str) -> dict[str, list[dict]]:
    """cais/mmlu's schema: question, subject, choices (4), answer (0-3); test and dev (the shots)."""
    def read(split: str) -> list[dict]:
        with open(data / "mmlu" / split / f"{subject}_{split}.csv", encoding="utf-8", newline="") as f:
            return [{"question": q, "subject": subject, "choices": [a, b, c, d], "answer": "ABCD".index(ans)}
                    for q, a, b, c, d, ans in csv.reader(f)]
    return {"test": read("test"), "dev": read("dev")}


# evalkit task -> (rows, lm-eval's YAML, its splits that have no local file: unset, or lm-eval would load them)
ZERO_SHOT = {"piqa": (piqa_rows, "piqa/piqa.yaml", ["training_split"]),
             "arc_easy": (arc_easy_rows, "arc/arc_easy.yaml", ["training_split", "validation_split"]),
             "hellaswag": (hellaswag_rows, "hellaswag/hellaswag.yaml", ["training_split"])}


def _yaml(fields: dict) -> str:
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in fields.items())  # JSON is YAML


def write_tasks(tasks: list[str], data: Path, out: Path) -> list[str]:
    """Data files and YAMLs under `out` for evalkit task names (piqa, arc_easy, hellaswag, mmlu_<subject>);
    returns the lm-eval task names, for `lm_eval --include_path out --tasks ...`."""
    import lm_eval
    installed = Path(lm_eval.__file__).parent / "tasks"
    names = []
    for task in tasks:
        if task.startswith("mmlu_"):
            subject = task.removeprefix("mmlu_")
            splits, base = mmlu_rows(data, subject), installed / "mmlu" / "default" / f"mmlu_{subject}.yaml"
            extra = {"num_fewshot": 5}
        else:
            if task not in ZERO_SHOT:
                raise SystemExit(f"vs_lm_eval: task {task!r} not supported (piqa, arc_easy, hellaswag, mmlu_<subject>)")
            reader, yaml_path, absent = ZERO_SHOT[task]
            splits, base, extra = reader(data), installed / yaml_path, dict.fromkeys(absent)
        files = {split: str(_write_jsonl(out / "data" / task / f"{split}.jsonl", rows)) for split, rows in splits.items()}
        name = task + LOCAL
        (out / f"{name}.yaml").write_text(_yaml({
            "include": str(base), "task": name, "tag": [], "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": files}, **extra}))
        names.append(name)
    return names
