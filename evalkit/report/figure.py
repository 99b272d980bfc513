"""The paper's Figure 2: each task's headline metric against training tokens (or steps), one panel
per task (the paper's panels first, in its order), one line per model family, from result folders."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from evalkit.errors import UsageError
from evalkit.report.cells import format_params
from evalkit.report.paper import FigurePanel, load_figure_panels
from evalkit.report.results import results_frame

POINT_COLUMNS = ["family", "run", "task", "metric", "x", "value", "stderr"]


def figure_points(results: list[dict], folders: list[str]) -> tuple[pd.DataFrame, str]:
    """One row per (run, task): the headline metric (x100) at the run's training tokens; and the
    x axis ("training tokens" or "training step": tokens when every run records them)."""
    progress = [(result["model"].get("training") or {}) for result in results]
    if all(p.get("tokens") is not None for p in progress):
        key, axis = "tokens", "training tokens"
    elif all(p.get("step") is not None for p in progress):
        key, axis = "step", "training step"
    else:
        missing = next(f for f, p in zip(folders, progress) if p.get("tokens") is None)
        raise UsageError(f"{missing}: results.json records no training tokens; run it with "
                         "--training-tokens N (or from a checkpoint whose trainer_state.json records them)")
    frame = results_frame(results)  # one row per (run, task, metric)
    headline = {(run, task): protocol.get("headline_metric") for run, result in enumerate(results)
                for task, protocol in (result.get("protocol") or {}).items()}
    keep = pd.Series([headline.get((r.run, r.task)) == r.metric for r in frame.itertuples()], index=frame.index,
                     dtype=bool)
    frame = frame[keep].copy()
    frame["family"] = [_family(results[run]["model"]) for run in frame["run"]]
    frame["x"] = [progress[run][key] for run in frame["run"]]
    frame["value"] *= 100
    frame["stderr"] = frame["stderr"].astype(float) * 100
    return frame[POINT_COLUMNS].reset_index(drop=True), axis


def _family(model: dict) -> str:
    """Figure 2 draws a line per model size; a results.json may name its family instead."""
    return model.get("family") or format_params(model.get("params")) or model["name"]


def panel_order(tasks: list[str], panels: list[FigurePanel]) -> list[tuple[str, str]]:
    """(task, title) in the paper's panel order, then the other tasks by name."""
    ordered = []
    for panel in panels:
        for task in sorted(t for t in tasks if t.startswith(panel.prefix)):
            ordered.append((task, panel.label if task == panel.prefix else f"{panel.label} ({task})"))
    placed = {task for task, _ in ordered}
    return ordered + [(task, task) for task in sorted(set(tasks) - placed)]


def plot_figure(points: pd.DataFrame, axis: str) -> Figure:
    """Panels of metric against `axis`, one line (with standard errors) per family."""
    panels = panel_order(list(dict.fromkeys(points["task"])), load_figure_panels())
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    families = list(dict.fromkeys(points["family"]))
    for ax, (task, title) in zip(axes.flat, panels):
        for family in families:
            line = points[(points["task"] == task) & (points["family"] == family)].sort_values("x")
            if line.empty:
                continue
            errors = line["stderr"].fillna(0).to_numpy() if line["stderr"].notna().any() else None
            ax.errorbar(line["x"], line["value"], yerr=errors, marker="o", capsize=2, label=family)
        ax.set_title(title)
        ax.set_xlabel(axis)
        ax.set_ylabel(", ".join(dict.fromkeys(points[points["task"] == task]["metric"])) + " (%)")
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(title="model", fontsize="small")
    return figure


def write_figure(results: list[dict], folders: list[str], output: Path) -> Figure:
    """Plot and save to `output` (.png or .pdf, by suffix)."""
    points, axis = figure_points(results, folders)
    if points.empty:
        raise UsageError("no run has a task with a headline metric to plot")
    figure = plot_figure(points, axis)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=150)
    return figure
