"""LaTeX (booktabs) of the table views: one `table` float per paper table, to \\input into a paper
(needs \\usepackage{booktabs}), and a standalone document of all of them that pdflatex compiles."""
from __future__ import annotations

from evalkit.report.table import TableView
from evalkit.report.user_tasks import HEADER, TITLE, UserTasksTable

DASH = "--"
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "±": r"$\pm$", "–": "--", "—": "---", "Δ": r"$\Delta$", "†": r"$^\dagger$", "…": r"\ldots{}",
            "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$", "<": r"\textless{}", ">": r"\textgreater{}"}
PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=2cm,landscape]{geometry}
\usepackage{booktabs}
"""


def latex_document(views: list[TableView], user: UserTasksTable | None = None) -> str:
    """A complete document: `pdflatex report.tex` typesets every table."""
    # numbered as in the paper; the files to \input leave the numbering to the including document
    body = "".join(f"\n\\setcounter{{table}}{{{view.table.number - 1}}}\n" + latex_table(view)
                   for view in views) or "\nNo result fills a cell of Tables 3--14.\n"
    if user is not None:
        body += "\n" + user_tasks_latex(user)
    return ("% LLaMA paper tables (Touvron et al. 2023, arXiv:2302.13971) with evaluated rows.\n"
            "% Each table alone, to \\input into a paper with \\usepackage{booktabs}: tables/table<N>.tex.\n"
            + PREAMBLE + "\\begin{document}\n" + body + "\\end{document}\n")


def latex_table(view: TableView) -> str:
    """One table float; needs only booktabs."""
    table = view.table
    align = "l" * view.label_columns + "r" * (len(view.header) - view.label_columns)
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             _row([escape(label) for label in view.header]), r"\midrule"]
    for index, row in enumerate(view.frame.itertuples(index=False)):
        if index == view.paper_rows:
            lines.append(r"\midrule")
        lines.append(_row([_cell(cell) for cell in row]))
    lines += [r"\bottomrule", r"\end{tabular}"]
    unverified = " Paper numbers not verified." if not table.verified else ""
    lines.append(rf"\caption{{{escape(table.caption)} (LLaMA paper, Table {table.number}.){unverified}}}")
    lines.append(rf"\label{{tab:llama-{table.number}}}")
    for heading, notes in view.notes:
        lines.append(r"\par\smallskip{\footnotesize\raggedright " + escape(heading) + ": "
                     + "; ".join(escape(note) for note in notes) + ".\\par}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def user_tasks_latex(user: UserTasksTable) -> str:
    """The table of tasks outside the paper's tables (no paper number)."""
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small", r"\begin{tabular}{lllrrrrl}", r"\toprule",
             _row([escape(label) for label in HEADER]), r"\midrule",
             *(_row([_cell(cell) for cell in row]) for row in user.body), r"\bottomrule", r"\end{tabular}",
             rf"\par\smallskip{{\bfseries {escape(TITLE)}}}\par"]
    if user.notes:
        lines.append(r"\par\smallskip{\footnotesize\raggedright Runs: " + "; ".join(escape(n) for n in user.notes)
                     + ".\\par}")
    return "\n".join(lines + [r"\end{table}"]) + "\n"


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
