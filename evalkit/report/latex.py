"""LaTeX (booktabs) for the paper tables with evaluated rows; needs \\usepackage{booktabs}."""
from __future__ import annotations

from evalkit.report.grid import Grid
from evalkit.report.paper import PaperTable

DASH = "--"
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_document(sections: list[tuple[PaperTable, Grid]], extra: list[tuple[str, Grid]] = ()) -> str:
    head = ("% LLaMA paper tables (Touvron et al. 2023, arXiv:2302.13971) with evaluated rows.\n"
            "% Requires \\usepackage{booktabs}.\n")
    return head + "".join("\n" + latex_table(table, grid) for table, grid in sections) + \
        "".join("\n" + latex_grid(grid, escape(title), f"tab:{title.lower().replace(' ', '-')}")
                for title, grid in extra)


def latex_table(table: PaperTable, grid: Grid) -> str:
    unverified = " Paper numbers not verified." if not table.verified else ""
    caption = rf"{escape(table.caption)} (LLaMA paper, Table {table.number}.){unverified}"
    return latex_grid(grid, caption, f"tab:llama-{table.number}")


def latex_grid(grid: Grid, caption: str, ref: str) -> str:
    align = "l" * grid.label_columns + "r" * (len(grid.header) - grid.label_columns)
    lines = [r"\begin{table}[ht]", r"\centering", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             _row([escape(label) for label in grid.header]), r"\midrule"]
    for index, row in enumerate(grid.body):
        if index == grid.paper_rows:
            lines.append(r"\midrule")
        lines.append(_row([_cell(cell) for cell in row]))
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines.append(rf"\caption{{{caption}}}")
    lines.append(rf"\label{{{ref}}}")
    if grid.stderr_notes:
        lines.append(r"\par\smallskip{\footnotesize Standard errors: "
                     + escape("; ".join(grid.stderr_notes)).replace("±", r"$\pm$") + ".}")
    for note in grid.notes:
        lines.append(r"\par{\footnotesize Note: " + escape(note) + ".}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def escape(text: str) -> str:
    return "".join(_SPECIAL.get(char, char) for char in text)


def _cell(cell: str | None) -> str:
    if cell is None:
        return DASH
    if cell.endswith("*"):  # the paper's mark for values read from figures
        return escape(cell[:-1]) + "$^*$"
    return escape(cell)


def _row(cells: list[str]) -> str:
    return " & ".join(cells) + r" \\"
