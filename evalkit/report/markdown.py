"""Markdown (GitHub pipe tables, via tabulate) of the table views, with their notes as lists."""
from __future__ import annotations

from tabulate import tabulate

from evalkit.report.table import TableView
from evalkit.report.user_tasks import HEADER, TITLE, UserTasksTable

DASH = "–"
INTRO = ("Rows as published in Touvron et al. 2023, *LLaMA: Open and Efficient Foundation Language "
         "Models* (arXiv:2302.13971), then one row per evaluated model; – marks a cell the paper "
         "does not report or that was not run (the notes under each table say why), † a value over "
         "part of the benchmark.")


def markdown_document(views: list[TableView], user: UserTasksTable | None = None) -> str:
    parts = ["# LLaMA paper tables", INTRO]
    parts += [markdown_table(view) for view in views]
    if not views:
        parts.append("No result fills a cell of Tables 3-14.")
    if user is not None:
        body = [[DASH if cell is None else cell for cell in row] for row in user.body]
        parts.append("\n".join([f"## {TITLE}", "", tabulate(body, HEADER, tablefmt="pipe", disable_numparse=True,
                                                              colalign=["left"] * 3 + ["right"] * 3)]
                               + (["", "Runs:", *(f"- {note}" for note in user.notes)] if user.notes else [])))
    return "\n\n".join(parts) + "\n"


def markdown_table(view: TableView) -> str:
    table = view.table
    unverified = " (paper numbers not verified)" if not table.verified else ""
    lines = [f"## Table {table.number}: {table.caption}{unverified}", ""]
    body = [[DASH if cell is None else cell for cell in row] for row in view.frame.itertuples(index=False)]
    align = ["left"] * view.label_columns + ["right"] * (len(view.header) - view.label_columns)
    lines.append(tabulate(body, view.header, tablefmt="pipe", disable_numparse=True, colalign=align))
    for heading, notes in view.notes:
        lines += ["", f"{heading}:", *(f"- {note}" for note in notes)]
    return "\n".join(lines)
