"""Reports: the LLaMA paper's Tables 3-14 with one row per evaluated model, in markdown and LaTeX.

The paper's numbers and the column specs live in reports/ (paper_results.json, table_specs.json).
"""
from evalkit.report.render import render_reports, write_reports
from evalkit.report.results import load_results

__all__ = ["load_results", "render_reports", "write_reports"]
