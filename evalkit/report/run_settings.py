"""What a report row must say besides its numbers: the settings of its run that change them when they
differ from the paper's protocol (its label), and notes under the table for what a cell cannot show
(documents the window cut or capped, a pass@k that the number of samples cannot give)."""
from __future__ import annotations

import functools
from typing import Any

from evalkit.run_options import OPTIONS


def task_options(result: dict, task: str) -> dict[str, Any]:
    """The run options that applied to `task` and depart from its protocol (results.json
    `protocol.<task>.options`, evalkit/run_options.py); for results written before that was recorded,
    what the run's settings say."""
    protocol = (result.get("protocol") or {}).get(task, {})
    if "options" in protocol:
        return protocol["options"]
    run, metrics = result.get("run") or {}, result["results"].get(task, {})
    found: dict[str, Any] = {}
    if run.get("data") == "examples":
        found["examples"] = True
    if run.get("num_fewshot") is not None:
        found["num_fewshot"] = run["num_fewshot"]
    sampled = protocol.get("n") and protocol.get("temperature", 1) != 0  # greedy tasks draw one sample
    if sampled and (run.get("n_samples") is not None or run.get("load_generations")):
        found["n_samples"] = protocol["n"]
    if run.get("dtype"):
        found["dtype"] = run["dtype"]
    if run.get("limit") and not ("n_total" in metrics and metrics["n"] >= metrics["n_total"]):
        found["limit"] = run["limit"]  # --limit cut the task (or its total is unknown)
    return found


def shots_short(result: dict, task: str) -> str | None:
    """"1.2 of 5 shots" where a document of `task` got fewer shots than its protocol asks."""
    used = ((result.get("protocol") or {}).get(task) or {}).get("shots_used")
    if not used or used["min"] >= used["asked"]:
        return None
    return f"{used['mean']:.1f} of {used['asked']} shots"


def settings_label(result: dict, tasks: list[str]) -> list[str]:
    """Parts of a row's label for the run's departures from the paper's protocol, over `tasks` (the
    row's tasks that were run): each run option that applied to one of them, as the option says it
    (evalkit/run_options.py), and the shots its documents got where fewer than asked."""
    model, protocols = result["model"], result.get("protocol") or {}
    options = {task: task_options(result, task) for task in tasks}
    parts = ["random weights"] if model.get("format") == "tiny" else []
    for option in OPTIONS:
        for task in tasks:
            value = options[task].get(option.name)
            if option.label is None or value is None or (option.name == "num_fewshot" and shots_short(result, task)):
                continue  # "1.2 of 5 shots" says the asked number too
            parts.append(option.label(value, {"model": model, "protocol": protocols.get(task, {})}))
        if option.name == "num_fewshot":
            parts += [short for task in tasks if (short := shots_short(result, task))]
    if model.get("backend") not in (None, "llama", "generations") and not any("backend" in o for o in options.values()):
        parts.append(f"{model['backend']} backend")  # results written before the backend was recorded per task
    scorers = sorted({name for t in tasks if (name := scorer_name(protocols.get(t, {})))
                      and name != paper_scorer(t)})
    if scorers:
        parts.append("scorer " + "/".join(scorers))
    excluded = sum((result.get("scorers") or {}).get(t, {}).get("excluded_documents", 0) for t in tasks)
    if excluded:  # documents whose judgement could not be made are left out, never scored 0: say so
        parts.append(f"incomplete: {excluded} document{'s' if excluded != 1 else ''} unscored")
    return list(dict.fromkeys(parts))


def row_notes(result: dict, label: str, tasks: list[str]) -> list[str]:
    """One line per fact a cell cannot show, for the row `label`."""
    notes = []
    protocols = result.get("protocol") or {}
    for task in tasks:
        window = (result.get("window") or {}).get(task)
        if window and (window["prompt_cut"] or window["new_tokens_capped"]):
            notes.append(f"{label}, {task}: in the {window['max_length']}-token window, {window['prompt_cut']} of "
                         f"{window['documents']} prompts were cut from the left and {window['new_tokens_capped']} "
                         "had their new tokens capped")
        protocol = protocols.get(task, {})
        if shots_short(result, task):
            used = protocol["shots_used"]
            spread = f"{used['min']}" if used["min"] == used["max"] else f"{used['min']} to {used['max']}"
            notes.append(f"{label}, {task}: {spread} of the {used['asked']} shots asked per document (mean "
                         f"{used['mean']:.2f}); the others did not fit the model's window")
        k, n = protocol.get("k"), protocol.get("n")
        if k and n and n < k and f"pass@{k}" not in result["results"][task]:
            notes.append(f"{label}, {task}: pass@{k} needs {k} samples per problem; this run has {n}")
    return notes


def scorer_name(protocol: dict) -> str | None:
    """The judge a task's protocol names (a string, or a dict with its name)."""
    scorer = protocol.get("scorer")
    return scorer.get("name") if isinstance(scorer, dict) else scorer


@functools.cache
def _paper_scorers() -> dict[str, str]:
    from evalkit.report.paper import load_tables
    return {column.task: column.paper_protocol["scorer"] for table in load_tables() for column in table.columns
            if "scorer" in column.paper_protocol}


def paper_scorer(task: str) -> str | None:
    """The judge the paper used for the task (reports/table_specs.json paper_protocol.scorer)."""
    return _paper_scorers().get(task)
