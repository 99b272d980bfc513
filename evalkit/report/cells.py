"""One evaluated model's row of a paper table: which metric fills each cell, formatted like the paper."""
from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import DataError
from evalkit.report.notes import row_notes, settings_label
from evalkit.report.paper import HEADLINE, Column, PaperTable


@dataclass(frozen=True)
class EvaluatedRow:
    model: str
    params: str
    cells: tuple[str | None, ...]    # formatted like the paper's cells; None where not run
    stderrs: tuple[str | None, ...]  # same units as the cells; None where not reported
    notes: tuple[str, ...] = ()      # printed under the table (window cuts, pass@k not computable)


def evaluated_row(table: PaperTable, result: dict) -> EvaluatedRow | None:
    """The row `result` (a checked results.json) fills in `table`, or None when it fills no cell."""
    values, stderrs = [], []
    for column in table.columns:
        metrics = result["results"].get(column.task)
        if metrics is None:  # task not run
            values.append(None)
            stderrs.append(None)
            continue
        metric = _metric_name(table, column, result)
        values.append(_number(metrics.get(metric), result, column.task, metric))
        stderrs.append(_number(metrics.get(f"{metric}_stderr"), result, column.task, f"{metric}_stderr"))
    if all(v is None for v in values):
        return None
    model = result["model"]
    tasks = list(dict.fromkeys(c.task for c in table.columns if c.task in result["results"]))
    label = row_label(result, tasks)
    return EvaluatedRow(model=label, params=format_params(model.get("params")),
                        cells=tuple(_format(table, v) for v in values),
                        stderrs=tuple(_format(table, s) for s in stderrs),
                        notes=tuple(row_notes(result, label, tasks)))


def row_label(result: dict, tasks: list[str]) -> str:
    """The model's label (--label, else the checkpoint's name), then every setting of the run that changes
    the row's numbers against the paper's protocol (never passed off as the paper's protocol)."""
    label = result["model"].get("label") or result["model"]["name"]
    parts = settings_label(result, tasks)
    return f"{label} ({', '.join(parts)})" if parts else label


def format_params(params: int | None) -> str:
    """6_738_415_616 -> 6.7B, 15_000_000 -> 15M, 260_000 -> 260K: the paper's size column."""
    if not params:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if params >= size:
            count = params / size
            return f"{count:.0f}{unit}" if count >= 10 or count == round(count) else f"{count:.1f}{unit}"
    return str(params)


def _metric_name(table: PaperTable, column: Column, result: dict) -> str:
    if column.metric != HEADLINE:
        return column.metric
    headline = result.get("protocol", {}).get(column.task, {}).get("headline_metric")
    if not isinstance(headline, str):
        raise DataError(f"{result['model']['name']}: protocol.{column.task}.headline_metric is "
                        f"missing; Table {table.number} column {column.label} needs it")
    return headline


def _number(value: object, result: dict, task: str, metric: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{result['model']['name']}: results.{task}.{metric} is not a number: {value!r}")
    return float(value)


def _format(table: PaperTable, value: float | None) -> str | None:
    if value is None:
        return None
    if table.scale == "percent":
        return f"{100 * value:.1f}"
    return f"{value:.{table.decimals}f}"
