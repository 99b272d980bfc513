"""Reports: the LLaMA paper's Tables 3-14 with one row per evaluated model (markdown, LaTeX, HTML),
Figure 2 against training tokens, and the comparison of two runs.

The paper's numbers and the column specs live in reports/ (paper_results.json, table_specs.json).
For notebooks: results_frame (every metric of some runs), samples_frame (one run's documents of a
task) and paper_frame (every published cell) are pandas DataFrames.
"""
from evalkit.report.paper import load_tables, paper_frame
from evalkit.report.render import build_report, render_reports, write_reports
from evalkit.report.results import load_results, results_frame, samples_frame

__all__ = ["build_report", "load_results", "load_tables", "paper_frame", "render_reports", "results_frame",
           "samples_frame", "write_reports"]
