"""The LLaMA paper's published tables, joined with the specs that say which results fill them.

reports/paper_results.json holds Tables 3-14 of Touvron et al. 2023 (arXiv:2302.13971) as printed;
reports/table_specs.json says, per column, which task and metric of a results.json fill it, the
protocol the paper states for it, and the panels of Figure 2. Both are read and checked here; the
rest of evalkit/report only sees the dataclasses below (or `paper_frame`, the same cells as a frame).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import DataError
from evalkit.layout import data_dir

if TYPE_CHECKING:
    import pandas as pd

REPORTS_DIR = data_dir("reports")
HEADLINE = "headline"  # a spec metric that means: the protocol's headline_metric for that task


@dataclass(frozen=True)
class Column:
    label: str   # as printed in the paper
    task: str    # key of results.json "results"
    metric: str  # a metric of that task, or HEADLINE
    paper_protocol: dict = field(default_factory=dict)  # settings the paper states, as protocol fields


@dataclass(frozen=True)
class PaperRow:
    model: str
    params: str
    cells: tuple[str | None, ...]  # as printed ("76.5", "3.6*"); None where the paper prints a dash


@dataclass(frozen=True)
class PaperTable:
    number: int
    caption: str
    verified: bool
    columns: tuple[Column, ...]
    rows: tuple[PaperRow, ...]
    scale: str        # "percent": fractions shown x100 with one decimal; "fraction": shown as is
    decimals: int
    transposed: bool  # the paper prints models as columns


def load_tables(reports_dir: Path = REPORTS_DIR) -> list[PaperTable]:
    """Tables 3-14 in the paper's order; a DataError names the file and table when they disagree."""
    paper_path = reports_dir / "paper_results.json"
    specs_path = reports_dir / "table_specs.json"
    paper = _read_json(paper_path)["tables"]
    specs = {spec["number"]: spec for spec in _read_json(specs_path)["tables"]}
    tables = []
    for entry in paper:
        number = entry["number"]
        spec = specs.get(number)
        if spec is None:
            raise DataError(f"{specs_path}: no spec for Table {number}")
        shared = spec.get("paper_protocol", {})
        columns = tuple(Column(c["label"], c["task"], c["metric"], {**shared, **c.get("paper_protocol", {})})
                        for c in spec["columns"])
        if [c.label for c in columns] != entry["columns"]:
            raise DataError(f"{specs_path}: Table {number} columns {[c.label for c in columns]} "
                            f"differ from the paper's {entry['columns']}")
        rows = tuple(PaperRow(r["model"], r["params"], tuple(r["cells"])) for r in entry["rows"])
        for row in rows:
            if len(row.cells) != len(columns):
                raise DataError(f"{paper_path}: Table {number} row {row.model} {row.params} has "
                                f"{len(row.cells)} cells for {len(columns)} columns")
        tables.append(PaperTable(number=number, caption=entry["caption"], verified=entry["verified"],
                                 columns=columns, rows=rows, scale=spec["scale"],
                                 decimals=spec.get("decimals", 1),
                                 transposed=entry.get("transposed", False)))
    return tables


@dataclass(frozen=True)
class FigurePanel:
    label: str   # as titled in the paper's Figure 2
    prefix: str  # tasks whose name starts with it are plotted in this panel


def load_figure_panels(reports_dir: Path = REPORTS_DIR) -> list[FigurePanel]:
    """Figure 2's panels in the paper's order."""
    return [FigurePanel(p["label"], p["prefix"]) for p in _read_json(reports_dir / "table_specs.json")["figure2"]]


def paper_frame(tables: list[PaperTable]) -> "pd.DataFrame":
    """Every published cell, one row each: table, model, params, column, printed (as printed), value."""
    import pandas as pd  # the task registry reads the specs here and has no need of pandas
    records = [{"table": t.number, "model": r.model, "params": r.params, "column": c.label,
                "printed": cell, "value": None if cell is None else float(cell.removesuffix("*"))}
               for t in tables for r in t.rows for c, cell in zip(t.columns, r.cells)]
    return pd.DataFrame.from_records(records, columns=["table", "model", "params", "column", "printed", "value"])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read: {error}") from error
