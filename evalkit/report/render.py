"""Render and write the reports: the paper tables any of the given results fill, with their rows."""
from __future__ import annotations

from pathlib import Path

from evalkit.report.cells import evaluated_row
from evalkit.report.grid import build_grid
from evalkit.report.latex import latex_document
from evalkit.report.markdown import markdown_document
from evalkit.report.paper import load_tables
from evalkit.report.results import check_results
from evalkit.report.user_tasks import TITLE, user_tasks_grid


def render_reports(result_dicts: list[dict]) -> tuple[str, str]:
    """(markdown, latex) of every paper table that at least one result fills a cell of."""
    for index, result in enumerate(result_dicts, start=1):
        check_results(result, f"result {index}")
    sections = []
    tables = load_tables()
    for table in tables:
        rows = [row for result in result_dicts if (row := evaluated_row(table, result)) is not None]
        if rows:
            sections.append((table, build_grid(table, rows)))
    user = user_tasks_grid(tables, result_dicts)
    extra = [(TITLE, user)] if user else []
    return markdown_document(sections, extra), latex_document(sections, extra)


def write_reports(out_dir: str | Path, result_dicts: list[dict]) -> tuple[Path, Path]:
    """Write OUT/report.md and OUT/report.tex; returns their paths."""
    markdown, latex = render_reports(result_dicts)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md_path, tex_path = out / "report.md", out / "report.tex"
    md_path.write_text(markdown)
    tex_path.write_text(latex)
    return md_path, tex_path
