"""Markdown (GitHub pipe tables, via tabulate) for the paper tables with evaluated rows."""
from __future__ import annotations

from tabulate import tabulate

from evalkit.report.grid import Grid
from evalkit.report.paper import PaperTable

DASH = "–"
INTRO = ("Rows as published in Touvron et al. 2023, *LLaMA: Open and Efficient Foundation Language "
         "Models* (arXiv:2302.13971), then one row per evaluated model; – marks a cell the paper "
         "does not report or that was not run.")


def markdown_document(sections: list[tuple[PaperTable, Grid]], extra: list[tuple[str, Grid]] = ()) -> str:
    """The paper tables, then `extra` (title, grid) tables of results outside the paper (user tasks)."""
    parts = ["# LLaMA paper tables", INTRO]
    parts += [markdown_table(table, grid) for table, grid in sections]
    if not sections:
        parts.append("No result fills a cell of Tables 3-14.")
    parts += [markdown_grid(f"## {title}", grid) for title, grid in extra]
    return "\n\n".join(parts) + "\n"


def markdown_table(table: PaperTable, grid: Grid) -> str:
    unverified = " (paper numbers not verified)" if not table.verified else ""
    return markdown_grid(f"## Table {table.number}: {table.caption}{unverified}", grid)


def markdown_grid(title: str, grid: Grid) -> str:
    lines = [title, ""]
    body = [[DASH if cell is None else cell for cell in row] for row in grid.body]
    align = ["left"] * grid.label_columns + ["right"] * (len(grid.header) - grid.label_columns)
    lines.append(tabulate(body, grid.header, tablefmt="pipe", disable_numparse=True, colalign=align))
    if grid.stderr_notes:
        lines += ["", "Standard errors: " + "; ".join(grid.stderr_notes) + "."]
    if grid.notes:
        lines += ["", *(f"Note: {note}." for note in grid.notes)]
    return "\n".join(lines)
