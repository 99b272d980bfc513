"""A paper table plus evaluated rows as a grid of strings, in the orientation the paper prints it."""
from __future__ import annotations

from dataclasses import dataclass, field

from evalkit.report.cells import EvaluatedRow
from evalkit.report.paper import PaperTable


@dataclass(frozen=True)
class Grid:
    header: list[str]
    body: list[list[str | None]]  # None: a dash (not reported by the paper, or not run)
    label_columns: int            # leading text columns (model and size, or the row label)
    paper_rows: int | None        # body rows from the paper, evaluated rows after; None if transposed
    stderr_notes: list[str]       # one line per evaluated model that reports standard errors
    notes: list[str] = field(default_factory=list)  # what the cells cannot show (evalkit.report.notes)


def build_grid(table: PaperTable, evaluated: list[EvaluatedRow]) -> Grid:
    notes = [note for row in evaluated if (note := _stderr_note(table, row))]
    if table.transposed:
        names = [f"{r.model} {r.params}".strip() for r in (*table.rows, *evaluated)]
        body = [[column.label, *(r.cells[i] for r in (*table.rows, *evaluated))]
                for i, column in enumerate(table.columns)]
        return Grid(["", *names], body, 1, None, notes, [n for r in evaluated for n in r.notes])
    body = [[r.model, r.params, *r.cells] for r in (*table.rows, *evaluated)]
    header = ["Model", "Params", *(c.label for c in table.columns)]
    return Grid(header, body, 2, len(table.rows), notes, [n for r in evaluated for n in r.notes])


def _stderr_note(table: PaperTable, row: EvaluatedRow) -> str | None:
    parts = [f"{column.label} ±{stderr}" for column, stderr in zip(table.columns, row.stderrs)
             if stderr is not None]
    return f"{row.model}: {', '.join(parts)}" if parts else None
