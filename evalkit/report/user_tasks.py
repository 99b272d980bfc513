"""Tasks that fill no cell of the paper's tables (YAML user tasks, MMLU's mmlu_<subject> tasks): a table of
their own, one row per (model, task) with the headline metric, its standard error, the documents
evaluated, the shots per document and the prompt's sha256 (its first 12 digits). A group of lm-eval task
files has a row of its own (its aggregate, over the documents of its tasks) above its tasks' rows."""
from __future__ import annotations

from dataclasses import dataclass

from evalkit.report.cells import from_task_file, row_label
from evalkit.report.paper import PaperTable
from evalkit.report.run_settings import row_notes

TITLE = "Tasks outside the paper's tables"
HEADER = ["Model", "Task", "Metric", "Value", "Stderr", "n", "Shots", "Prompt"]


@dataclass(frozen=True)
class UserTasksTable:
    body: list[list[str | None]]  # rows of HEADER's columns; None for a value not reported
    notes: list[str]              # what a cell cannot show (window cuts, pass@k out of reach, code isolation)


def user_tasks_table(tables: list[PaperTable], result_dicts: list[dict]) -> UserTasksTable | None:
    in_tables = {column.task for table in tables for column in table.columns}
    body, notes = [], []
    for result in result_dicts:
        for task, metrics in result["results"].items():
            if task in in_tables and not from_task_file(result, task):
                continue
            protocol = (result.get("protocol") or {}).get(task, {})
            headline = protocol.get("headline_metric")
            value, stderr = metrics.get(headline), metrics.get(f"{headline}_stderr")
            label = row_label(result, [task])
            shots, digest = protocol.get("num_fewshot"), protocol.get("prompt_hash")
            body.append([label, task, headline or "", _number(value), _number(stderr), str(metrics.get("n", "")),
                         None if shots is None else str(shots), digest[:12] if digest else None])
            notes += row_notes(result, label, [task])
            # an unsafe_code task's programs: the containment they ran under, as for Table 8 (isolation.py)
            if isolation := result.get("scorers", {}).get(task, {}).get("code_execution", {}).get("isolation"):
                notes.append(f"{label}, {task}: code execution isolation: {'; '.join(isolation)}")
    return UserTasksTable(body, notes) if body else None


def _number(value) -> str | None:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else None
