"""Render and write the reports: the paper tables any of the given results fill, with their rows, as
markdown, LaTeX (a standalone document and one file per table) and a static HTML page."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.report.latex import latex_document, latex_table
from evalkit.report.markdown import markdown_document
from evalkit.report.paper import load_tables
from evalkit.report.results import check_results
from evalkit.report.table import TableView, build_view, check_compare_to
from evalkit.report.user_tasks import user_tasks_table
from evalkit.results import atomic_write


@dataclass(frozen=True)
class Report:
    views: list[TableView]
    markdown: str
    latex: str
    latex_tables: dict[int, str]  # table number -> the table alone, to \input


def build_report(result_dicts: list[dict], compare_to: str | None = None) -> Report:
    check_compare_to(compare_to)
    for index, result in enumerate(result_dicts, start=1):
        check_results(result, f"result {index}")
    tables = load_tables()
    views = [view for table in tables if (view := build_view(table, result_dicts, compare_to))]
    user = user_tasks_table(tables, result_dicts)
    return Report(views, markdown_document(views, user), latex_document(views, user),
                  {view.table.number: latex_table(view) for view in views})


def render_reports(result_dicts: list[dict], compare_to: str | None = None) -> tuple[str, str]:
    """(markdown, latex) of every paper table that at least one result ran a task of."""
    report = build_report(result_dicts, compare_to)
    return report.markdown, report.latex


def write_reports(out_dir: str | Path, result_dicts: list[dict], compare_to: str | None = None,
                  sources: list[Path] | None = None, figure: Path | None = None) -> list[Path]:
    """Write DIR/report.md, report.tex, tables/table<N>.tex and report.html (with a page per task's
    samples when `sources`, the result folders in the order of `result_dicts`, are given)."""
    from evalkit.report.html import write_html
    report = build_report(result_dicts, compare_to)
    out = Path(out_dir)
    written = [out / "report.md", out / "report.tex"]
    atomic_write(written[0], report.markdown)
    atomic_write(written[1], report.latex)
    for number, text in report.latex_tables.items():
        atomic_write(out / "tables" / f"table{number}.tex", text)
    written.append(write_html(out, report, result_dicts, sources, figure))
    return written
