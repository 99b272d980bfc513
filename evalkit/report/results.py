"""Reading and checking result folders (OUT/results.json, written by the runner) for the reports."""
from __future__ import annotations

import json
from pathlib import Path

from evalkit.errors import DataError


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
