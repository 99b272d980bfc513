"""What a report row must say besides its numbers: the settings of its run that change them when they
differ from the paper's protocol (its label), and notes under the table for what a cell cannot show
(documents the window cut or capped, a pass@k that the number of samples cannot give)."""
from __future__ import annotations

import functools


def settings_label(result: dict, tasks: list[str]) -> list[str]:
    """Parts of a row's label for the run's departures from the paper's protocol, over `tasks` (the
    row's tasks that were run)."""
    model, run = result["model"], result.get("run") or {}
    protocols = result.get("protocol") or {}
    parts = []
    if model.get("format") == "tiny":
        parts.append("random weights")
    if run.get("data") == "examples":
        parts.append("example docs")
    if run.get("num_fewshot") is not None:
        parts.append(f"{run['num_fewshot']}-shot")
    samples = sorted({protocols.get(t, {}).get("n") for t in tasks if protocols.get(t, {}).get("n")})
    if samples and (run.get("n_samples") is not None or run.get("load_generations")):
        parts.append(f"{'/'.join(map(str, samples))} sample{'s' if samples != [1] else ''} per problem")
    if run.get("dtype") == "auto":  # what auto chose on the machine that ran it, and why
        parts.append(f"{model.get('dtype')} via auto on {model.get('dtype_auto')}")
    elif run.get("dtype"):
        parts.append(run["dtype"])
    limit = _limit(result, tasks)
    if limit:
        parts.append(limit)
    scorers = sorted({name for t in tasks if (name := scorer_name(protocols.get(t, {})))
                      and name != paper_scorer(t)})
    if scorers:
        parts.append("scorer " + "/".join(scorers))
    excluded = sum((result.get("scorers") or {}).get(t, {}).get("excluded_documents", 0) for t in tasks)
    if excluded:  # documents whose judgement could not be made are left out, never scored 0: say so
        parts.append(f"incomplete: {excluded} document{'s' if excluded != 1 else ''} unscored")
    return parts


def _limit(result: dict, tasks: list[str]) -> str | None:
    """"first N docs" only where --limit cut a task short (not where it exceeds the benchmark)."""
    limit = (result.get("run") or {}).get("limit")
    if not limit:
        return None
    results, protocols = result["results"], result.get("protocol") or {}
    counted = [t for t in tasks if "n_total" in results[t]]
    if len(counted) < len(tasks):  # written before n_total was recorded: say what was asked
        return f"first {limit} docs"
    cut = [t for t in counted if results[t]["n"] < results[t]["n_total"]]
    if not cut:
        return None
    per = {protocols.get(t, {}).get("limit_per", "") for t in cut}
    return f"first {limit} docs" + (f" per {''.join(per)}" if per != {""} and len(per) == 1 else "")


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
