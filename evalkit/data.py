"""Reading documents: the authors' original files, the shipped examples, or the Hugging Face Hub.

Readers here are format-level (JSONL, line lists, CSV/TSV with or without header, JSON files); each task maps the
records to its documents. Every malformed input becomes a DataError of one line naming the file,
the line or record, and the field.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from evalkit.errors import DataError

# Hand-written example documents in each benchmark's original layout, for the offline demo.
EXAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "examples"


def _open_text(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        # utf-8-sig: a leading byte-order mark (TruthfulQA.csv has one) is not part of the first field.
        return opener(path, "rt", encoding="utf-8-sig", newline="")
    except OSError as err:
        raise DataError(f"{path}: cannot open ({err.strerror or err})") from err


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    """(where, record) for each non-empty line; `where` is "file:line" for error messages."""
    rows = []
    with _open_text(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{where}: invalid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object")
            rows.append((where, record))
    return rows


def read_json(path: Path, kind: type = dict) -> Any:
    """A whole JSON file whose top level must be a `kind` (an object, or a list such as TruthfulQA's mc_task.json)."""
    with _open_text(path) as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from err
    if not isinstance(record, kind):
        raise DataError(f"{path}: expected a JSON {'object' if kind is dict else kind.__name__}")
    return record


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines (label files such as PIQA's valid-labels.lst)."""
    with _open_text(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_csv(path: Path, columns: int) -> list[tuple[str, list[str]]]:
    """(where, row) of a headerless CSV whose rows must have `columns` fields; fields may hold newlines."""
    with _open_text(path) as f:
        rows = []
        for number, row in enumerate(csv.reader(f), 1):
            if len(row) != columns:
                raise DataError(f"{path}: record {number}: expected {columns} fields, found {len(row)}")
            rows.append((f"{path}: record {number}", row))
    return rows


def read_table(path: Path, columns: tuple[str, ...], delimiter: str = ",") -> list[tuple[str, dict]]:
    """(where, row as dict) of a CSV or TSV file with a header line that must name every one of `columns`
    (CrowS-Pairs' CSV, WinoGender's TSVs); fields may hold newlines."""
    with _open_text(path) as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(missing)}")
        rows = []
        for number, row in enumerate(reader, 1):
            if None in row or any(row[c] is None for c in columns):
                raise DataError(f"{path}: record {number}: expected {len(reader.fieldnames)} fields")
            rows.append((f"{path}: record {number}", row))
    return rows


def field(record: dict, name: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """record[name], checked to be present and of `kind` (a list must be non-empty)."""
    if name not in record:
        raise DataError(f"{where}: missing field '{name}'")
    value = record[name]
    if not isinstance(value, kind):
        expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: field '{name}' is {value!r}, expected {expected}")
    if isinstance(value, list) and not value:
        raise DataError(f"{where}: field '{name}' is an empty list")
    return value


def label_index(value: Any, labels: list[str], where: str, name: str) -> int:
    """The position of `value` among `labels` (e.g. "C" in ["A","B","C","D"]), else DataError."""
    text = str(value).strip()
    if text not in labels:
        raise DataError(f"{where}: field '{name}' is {value!r}, not one of {labels}")
    return labels.index(text)


def read_labelled_jsonl(records_path: Path, labels_path: Path, labels: list[str]) -> list[tuple[str, dict, int]]:
    """(where, record, label index) for a JSON-lines file whose labels sit one per line in a separate
    file, aligned by line (PIQA's valid-labels.lst, SIQA's dev-labels.lst)."""
    records, values = read_jsonl(records_path), read_lines(labels_path)
    if len(records) != len(values):
        raise DataError(f"{labels_path}: {len(values)} labels for {len(records)} records in {records_path}")
    return [(where, record, label_index(value, labels, f"{labels_path}:{i + 1}", "label"))
            for i, ((where, record), value) in enumerate(zip(records, values))]


def load_hub(path: str, name: str | None, split: str) -> Iterator[dict]:
    """Rows of a Hub dataset through `datasets` (its cache and HF_DATASETS_OFFLINE apply; without a network
    evalkit sets it, evalkit.hub_offline)."""
    from evalkit.hub_offline import offline_without_network
    offline = offline_without_network()
    import datasets  # imported here: only the Hub path needs it
    try:
        return iter(datasets.load_dataset(path, name, split=split))
    except Exception as err:  # datasets raises many types (ConnectionError, FileNotFoundError, ValueError)
        what = f"{path}" + (f" ({name})" if name else "") + f" split {split}"
        reason = offline or (str(err).splitlines()[0] if str(err) else type(err).__name__)
        reason += " and it is not in the local cache" if offline else ""
        raise DataError(f"cannot load {what} from the Hugging Face Hub: {reason}; "
                        "use --data-dir with the authors' files or --examples") from err
