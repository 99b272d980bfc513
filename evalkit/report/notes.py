"""The notes printed under a table: why a cell is a dash or marked, standard errors and document
counts, the reference of the delta rows, and a footnote per task with its prompt hash and the
protocol settings that differ from the paper's."""
from __future__ import annotations

from evalkit.report.cells import SHOWN, EvaluatedRow, format_value, from_task_file, scorer_name
from evalkit.report.paper import PaperTable
from evalkit.report.run_settings import task_options
from evalkit.run_options import OPTIONS

# protocol fields as a reader knows them
_SETTING_NAMES = {"num_fewshot": "shots", "k": "k", "n": "samples per problem",
                  "pass1_temperature": "pass@1 temperature", "sample_temperature": "pass@k temperature",
                  "scorer": "scorer"}


def cell_notes(table: PaperTable, rows: list[EvaluatedRow]) -> list[str]:
    """Per evaluated row: the columns it leaves as a dash or marks, grouped by reason."""
    notes = []
    for row in rows:
        by_reason: dict[str, list[str]] = {}
        for column, cell in zip(table.columns, row.cells):
            if cell.status != SHOWN:
                by_reason.setdefault(cell.reason, []).append(column.label)
        if by_reason:
            notes.append(f"{row.model}: " + "; ".join(f"{', '.join(labels)} {reason}"
                                                       for reason, labels in by_reason.items()))
    return notes


def spread_notes(table: PaperTable, rows: list[EvaluatedRow]) -> list[str]:
    """Per evaluated row: each shown column's standard error and number of documents."""
    notes = []
    for row in rows:
        parts = []
        for column, cell in zip(table.columns, row.cells):
            if cell.text is None or (cell.stderr is None and cell.n is None):
                continue
            spread = f" ±{format_value(table, cell.stderr)}" if cell.stderr is not None else ""
            count = f" (n = {cell.n})" if cell.n is not None else ""
            parts.append(f"{column.label}{spread}{count}")
        if parts:
            notes.append(f"{row.model}: {', '.join(parts)}")
    return notes


def task_footnotes(table: PaperTable, results: list[dict], rows: list[EvaluatedRow]) -> list[str]:
    """One footnote per task of the table: for each run of it, the prompt template and its hash, and
    the settings that differ from the paper's; runs with the same text are listed together."""
    notes = []
    for task in dict.fromkeys(column.task for column in table.columns):
        columns = [c for c in table.columns if c.task == task]
        paper = {k: v for c in columns for k, v in c.paper_protocol.items()}
        texts: dict[str, list[str]] = {}
        for result, row in zip(results, rows):
            if task in result["results"] and not from_task_file(result, task):
                texts.setdefault(_run_text(result, task, paper), []).append(row.model)
        if texts:
            labels = " / ".join(dict.fromkeys(c.label for c in columns))
            notes.append(f"{labels} ({task}): " + "; ".join(f"{', '.join(models)}: {text}"
                                                             for text, models in texts.items()))
    return notes


def protocol_differences(result: dict, task: str, paper: dict) -> list[str]:
    """The settings of `result`'s run of `task` that differ from the paper's (`paper`: protocol fields):
    what the run did to every task (--examples, --limit, ...), then the task's protocol against the
    paper's, then the protocol settings the run changed, each as its run option says it."""
    protocol = result.get("protocol", {}).get(task, {})
    options = task_options(result, task)
    about = {"model": result.get("model") or {}, "protocol": protocol}

    def said(run_wide: bool) -> list[str]:
        return [option.note(options[option.name], about) for option in OPTIONS
                if option.note and option.name in options and (option.applies == "run") == run_wide]

    found = said(run_wide=True)
    for key, expected in paper.items():
        ran = scorer_name(protocol) if key == "scorer" else protocol.get(key)
        if ran is not None and ran != expected:
            found.append(f"{_SETTING_NAMES.get(key, key)} {ran} (paper: {expected})")
    return found + said(run_wide=False)


def _run_text(result: dict, task: str, paper: dict) -> str:
    protocol = result.get("protocol", {}).get(task, {})
    digest = protocol.get("prompt_hash")
    prompt = f"prompt {protocol.get('template', task)} sha256:{digest[:12]}" if digest else "prompt hash not recorded"
    differences = protocol_differences(result, task, paper)
    return prompt + (", differs from the paper: " + ", ".join(differences) if differences
                     else ", settings as in the paper")
