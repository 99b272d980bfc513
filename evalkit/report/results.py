"""Reading result folders (OUT/results.json and OUT/samples/<task>.jsonl, written by the runner) for
the reports, the comparison and the figure; as checked dicts or as pandas DataFrames."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evalkit.errors import DataError

RESULT_COLUMNS = ["run", "model", "task", "metric", "value", "stderr", "n"]


def load_results(out_dir: str | Path) -> dict:
    """The parsed OUT/results.json; a DataError names the file when it is missing or malformed."""
    path = Path(out_dir) / "results.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not valid JSON: {error}") from error
    check_results(data, str(path))
    return data


def check_results(data: object, where: str) -> None:
    """The fields the report reads: results {task: {metric: number}}, model.name, protocol (optional)."""
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object")
    results = data.get("results")
    if not isinstance(results, dict) or not all(isinstance(v, dict) for v in results.values()):
        raise DataError(f"{where}: field 'results' must map each task to its metrics")
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise DataError(f"{where}: field 'model.name' is missing")
    if not isinstance(data.get("protocol", {}), dict):
        raise DataError(f"{where}: field 'protocol' must map each task to its protocol")


def samples_path(out_dir: str | Path, task: str) -> Path:
    return Path(out_dir) / "samples" / f"{task}.jsonl"


def load_samples(out_dir: str | Path, task: str) -> list[dict]:
    """OUT/samples/<task>.jsonl, one dict per document; a DataError names the file and line."""
    path = samples_path(out_dir, task)
    records = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # JSON Lines: "\n" only (splitlines also cuts at U+0085)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON: {error}") from error
        if not isinstance(record, dict) or "doc_id" not in record or not isinstance(record.get("metrics"), dict):
            raise DataError(f"{path}:{number}: expected an object with doc_id and metrics")
        records.append(record)
    return records


def samples_frame(out_dir: str | Path, task: str) -> pd.DataFrame:
    """One row per document, indexed by doc_id: prompt, target, prediction, the other fields of the
    file as they are, and one column `metric:<name>` per per-document metric."""
    records = load_samples(out_dir, task)
    frame = pd.DataFrame.from_records(
        [{k: v for k, v in r.items() if k != "metrics"} | {f"metric:{m}": v for m, v in r["metrics"].items()}
         for r in records])
    if frame.empty:
        return frame
    if frame["doc_id"].duplicated().any():
        raise DataError(f"{samples_path(out_dir, task)}: doc_id {frame['doc_id'][frame['doc_id'].duplicated()].iloc[0]!r} "
                        "appears twice")
    return frame.set_index("doc_id")


def results_frame(result_dicts: list[dict], labels: list[str] | None = None) -> pd.DataFrame:
    """Every metric of every run, one row each (RESULT_COLUMNS); `run` is the position in the list."""
    records = []
    for index, result in enumerate(result_dicts):
        label = labels[index] if labels else result["model"]["name"]
        for task, metrics in result["results"].items():
            for metric, value in metrics.items():
                if is_count(metric) or metric.endswith("_stderr") or not _is_number(value):
                    continue
                stderr = metrics.get(f"{metric}_stderr")
                records.append({"run": index, "model": label, "task": task, "metric": metric,
                                "value": float(value), "stderr": float(stderr) if _is_number(stderr) else None,
                                "n": documents_behind(metrics, metric)})
    return pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)


def is_count(name: str) -> bool:
    """A document count of results.<task>, not a score: n, n_total, n_<group>."""
    return name == "n" or name.startswith("n_")


def documents_behind(metrics: dict, metric: str) -> int | None:
    """The documents `metric` of a task averages over: n_<group> for a group's metric (<metric>_<group>,
    the longest group name that ends it: acc_male_gotcha is male_gotcha's), else n."""
    groups = [key[2:] for key in metrics if key.startswith("n_") and key != "n_total"]
    matching = [group for group in groups if metric.endswith("_" + group)]
    value = metrics.get(f"n_{max(matching, key=len)}" if matching else "n")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
