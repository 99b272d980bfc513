"""Reports: the LLaMA paper's Tables 3-14 with one row per evaluated model (markdown, LaTeX, HTML),
Figure 2 against training tokens, and the comparison of two runs.

The paper's numbers and the column specs live in reports/ (paper_results.json, table_specs.json).
For notebooks: results_frame (every metric of some runs), samples_frame (one run's documents of a
task) and paper_frame (every published cell) are pandas DataFrames. Names are imported on first use,
so the task registry can read the table specs without loading pandas.
"""
import importlib

_EXPORTS = {"build_report": "render", "render_reports": "render", "write_reports": "render",
            "load_results": "results", "results_frame": "results", "samples_frame": "results",
            "load_tables": "paper", "paper_frame": "paper"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"evalkit.report.{_EXPORTS[name]}"), name)
