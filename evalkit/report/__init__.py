"""Reports: the LLaMA paper's Tables 3-14 with one row per evaluated model (markdown, LaTeX, HTML),
Figure 2 against training tokens, and the comparison of two runs.

The paper's numbers and the column specs live in reports/ (paper_results.json, table_specs.json).
"""
from evalkit.report.render import build_report, render_reports, write_reports
from evalkit.report.results import load_results

__all__ = ["build_report", "load_results", "render_reports", "write_reports"]
