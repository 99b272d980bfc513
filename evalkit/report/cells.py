"""One evaluated model's row of a paper table: which metric fills each cell, formatted like the paper,
and for each cell left as a dash or marked, the reason (not run, partial, incomplete, scorer not comparable)."""
from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import DataError
from evalkit.report.paper import HEADLINE, Column, PaperTable
from evalkit.report.results import documents_behind
from evalkit.report.run_settings import scorer_name, settings_label

PARTIAL_MARK = "†"  # a value over part of the benchmark (--limit, example documents)
NOT_RUN, PARTIAL, NOT_COMPARABLE, SHOWN = "not run", "partial", "scorer not comparable", "shown"


@dataclass(frozen=True)
class Cell:
    text: str | None        # as printed in the table (a PARTIAL_MARK when partial); None: a dash
    value: float | None     # the metric in the table's units (x100 for percent tables), None if absent
    stderr: float | None    # same units
    n: int | None           # documents behind the value (the group's own for a group's metric)
    status: str             # SHOWN, NOT_RUN, PARTIAL or NOT_COMPARABLE
    reason: str = ""        # for a dash or a mark: why


@dataclass(frozen=True)
class EvaluatedRow:
    model: str
    params: str
    params_count: int | None
    cells: tuple[Cell, ...]


def evaluated_row(table: PaperTable, result: dict) -> EvaluatedRow | None:
    """The row `result` (a checked results.json) fills in `table`, or None when it ran none of its tasks."""
    incomplete = result.get("incomplete") or {}
    ran = list(dict.fromkeys(c.task for c in table.columns if c.task in result["results"]
                             and not from_task_file(result, c.task)))
    if not ran and not any(column.task in incomplete for column in table.columns):
        return None
    model = result["model"]
    return EvaluatedRow(model=row_label(result, ran), params=format_params(model.get("params")),
                        params_count=model.get("params"),
                        cells=tuple(_cell(table, column, result) for column in table.columns))


def row_label(result: dict, tasks: list[str] | None = None) -> str:
    """The model's label (--label, else the checkpoint's name), then every setting of the run that changes
    the numbers of `tasks` (default: all it ran) against the paper's protocol, so that a row is never
    passed off as the paper's protocol or as the whole benchmark."""
    label = result["model"].get("label") or result["model"]["name"]
    parts = settings_label(result, list(result["results"]) if tasks is None else tasks)
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


def format_value(table: PaperTable, value: float) -> str:
    """A value already in the table's units, with the paper's decimals."""
    return f"{value:.{1 if table.scale == 'percent' else table.decimals}f}"


def from_task_file(result: dict, task: str) -> bool:
    """Whether `task` ran from an lm-eval task file: it then never fills a paper cell, whatever its name
    (only evalkit's own task knows the paper's protocol)."""
    return "lm_eval" in (result.get("protocol") or {}).get(task, {})


def _cell(table: PaperTable, column: Column, result: dict) -> Cell:
    metrics = result["results"].get(column.task)
    incomplete = (result.get("incomplete") or {}).get(column.task)
    if metrics is None or from_task_file(result, column.task):
        return Cell(None, None, None, None, NOT_RUN,
                    f"incomplete: {incomplete}" if incomplete and metrics is None else "not run")
    metric = _metric_name(table, column, result)
    raw = _number(metrics.get(metric), result, column.task, metric)
    n = documents_behind(metrics, metric)
    if raw is None:
        return Cell(None, None, None, n, PARTIAL, f"incomplete: {incomplete}" if incomplete else
                    f"partial: no {metric} in the results")
    scale = 100.0 if table.scale == "percent" else 1.0
    value = raw * scale
    stderr = _number(metrics.get(f"{metric}_stderr"), result, column.task, f"{metric}_stderr")
    stderr = None if stderr is None else stderr * scale
    paper_scorer = column.paper_protocol.get("scorer")
    scorer = scorer_name(result.get("protocol", {}).get(column.task, {}))
    if paper_scorer and scorer and scorer != paper_scorer:
        spread = "" if stderr is None else f" ±{format_value(table, stderr)}"
        return Cell(None, value, stderr, n, NOT_COMPARABLE,
                    f"scorer not comparable: {scorer}, the paper's is {paper_scorer}; "
                    f"measured {format_value(table, value)}{spread}")
    if incomplete:  # never passed off as the whole: documents lacked a judgement
        return Cell(format_value(table, value) + PARTIAL_MARK, value, stderr, n, PARTIAL, f"incomplete: {incomplete}")
    run = result.get("run") or {}
    whole = "n_total" in metrics and metrics["n"] >= metrics["n_total"]  # a --limit past the benchmark's end
    if (run.get("limit") and not whole) or run.get("data") == "examples":
        subset = "example documents" if run.get("data") == "examples" else f"first {run['limit']} documents"
        return Cell(format_value(table, value) + PARTIAL_MARK, value, stderr, n, PARTIAL, f"partial: {subset}")
    return Cell(format_value(table, value), value, stderr, n, SHOWN)


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
