"""A paper table with its evaluated rows (and delta rows) as a pandas DataFrame of printed cells, in
the orientation the paper prints it, plus the notes that go under it. Every output format (markdown,
LaTeX, HTML) renders this one frame, so every format shows the same cells."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from evalkit.errors import UsageError
from evalkit.report.cells import EvaluatedRow, evaluated_row, format_value
from evalkit.report.isolation import isolation_notes
from evalkit.report.notes import cell_notes, spread_notes, task_footnotes
from evalkit.report.paper import PaperRow, PaperTable
from evalkit.report.run_settings import row_notes

REFERENCE_SIZES = ("7B", "13B", "33B", "65B")
NEAREST = "nearest"


@dataclass(frozen=True)
class TableView:
    table: PaperTable
    frame: pd.DataFrame       # printed cells (str), None for a dash; positional columns, header in `header`
    header: list[str]
    label_columns: int        # leading text columns (model and size, or the row label)
    paper_rows: int | None    # the first body rows are the paper's; None when models are columns
    dashes: list[str]         # why cells are dashes or marked, per evaluated row
    spreads: list[str]        # standard errors and document counts, per evaluated row
    deltas: list[str]         # what each delta row subtracts
    footnotes: list[str]      # per task: prompt hash and protocol settings that differ from the paper's
    isolation: list[str]      # per run of executed code: the containment it ran under
    runs: list[str]           # per evaluated row: what a cell cannot show (window cuts, pass@k out of reach)

    @property
    def notes(self) -> list[tuple[str, list[str]]]:
        """(heading, lines) in the order they are printed, empty ones left out."""
        named = [("Dashes and marks", self.dashes), ("Standard errors and documents", self.spreads),
                 ("Deltas", self.deltas), ("Protocol", self.footnotes),
                 ("Code execution isolation", self.isolation), ("Runs", self.runs)]
        return [(heading, lines) for heading, lines in named if lines]


def check_compare_to(compare_to: str | None) -> None:
    if compare_to is not None and compare_to not in (*REFERENCE_SIZES, NEAREST):
        raise UsageError(f"--compare-to: expected one of {', '.join(REFERENCE_SIZES)} or {NEAREST}, "
                         f"got {compare_to!r}")


def build_view(table: PaperTable, results: list[dict], compare_to: str | None = None) -> TableView | None:
    """The table with one row per result that ran one of its tasks; None when no result did."""
    pairs = [(result, row) for result in results if (row := evaluated_row(table, result)) is not None]
    if not pairs:
        return None
    filled = [result for result, _ in pairs]
    rows = [row for _, row in pairs]
    lines: list[tuple[str, str, list[str | None]]] = [(r.model, r.params, list(r.cells)) for r in table.rows]
    paper_count = len(lines)
    deltas = []
    for row in rows:
        lines.append((row.model, row.params, [cell.text for cell in row.cells]))
        if compare_to is None:
            continue
        reference = reference_row(table, compare_to, row.params_count)
        if reference is None:
            deltas.append(f"{row.model}: no LLaMA {compare_to} row in Table {table.number}")
            continue
        delta = delta_cells(table, row, reference)
        if all(cell is None for cell in delta):
            continue
        lines.append((f"Δ vs LLaMA {reference.params}", "", delta))
        deltas.append(f"Δ vs LLaMA {reference.params}: the evaluated model just before it minus the paper's LLaMA "
                      f"{reference.params} row{' (percentage points)' if table.scale == 'percent' else ''}")
    labels = [c.label for c in table.columns]
    if table.transposed:
        names = [f"{model} {params}".strip() for model, params, _ in lines]
        body = [[label, *(cells[i] for _, _, cells in lines)] for i, label in enumerate(labels)]
        header, label_columns, paper_rows = ["", *names], 1, None
    else:
        body = [[model, params, *cells] for model, params, cells in lines]
        header, label_columns, paper_rows = ["Model", "Params", *labels], 2, paper_count
    frame = pd.DataFrame(body, columns=range(len(header)), dtype=object)
    return TableView(table, frame, header, label_columns, paper_rows, cell_notes(table, rows),
                     spread_notes(table, rows), list(dict.fromkeys(deltas)), task_footnotes(table, filled, rows),
                     isolation_notes(table, filled), run_notes(table, pairs))


def run_notes(table: PaperTable, pairs: list[tuple[dict, EvaluatedRow]]) -> list[str]:
    tasks = list(dict.fromkeys(column.task for column in table.columns))
    return [note for result, row in pairs
            for note in row_notes(result, row.model, [t for t in tasks if t in result["results"]])]


def reference_row(table: PaperTable, compare_to: str, params: int | None) -> PaperRow | None:
    """The paper's LLaMA row of that size, or of the size nearest `params` (on a log scale)."""
    llama = [row for row in table.rows if row.model == "LLaMA"]
    if compare_to != NEAREST:
        return next((row for row in llama if row.params == compare_to), None)
    if not params or not llama:
        return None
    return min(llama, key=lambda row: abs(math.log(parse_params(row.params) / params)))


def parse_params(printed: str) -> float:
    """'7B' -> 7e9, '260K' -> 2.6e5: the inverse of the size column."""
    return float(printed[:-1]) * {"K": 1e3, "M": 1e6, "B": 1e9}[printed[-1]]


def delta_cells(table: PaperTable, row: EvaluatedRow, reference: PaperRow) -> list[str | None]:
    cells = []
    for cell, printed in zip(row.cells, reference.cells):
        if cell.text is None or printed is None:
            cells.append(None)
            continue
        delta = cell.value - float(printed.removesuffix("*"))
        cells.append(("+" if delta >= 0 else "-") + format_value(table, abs(delta)))
    return cells
