"""Shots used: how many of its few-shot examples each document's prompt gave the model, and their summary.

A task records in each sample the shots its prompt holds (`num_fewshot`): MMLU and the generation tasks
drop shots from the end until the prompt fits the window, so they may hold fewer than the protocol asks.
Tasks that do not fit their shots (MBPP, multiple choice with --num-fewshot, YAML tasks) leave the window
to cut the prompt from the left (evalkit/engine/encoding.py, evalkit/window.py): there, a shot counts only
when the whole of it reached the model, found from where each shot starts (`Task.shot_starts`).
results.json `protocol.<task>.shots_used` = {asked, mean, min, max} over the documents evaluated.
"""
from __future__ import annotations

from typing import Any, Callable

from evalkit.requests import GenerateRequest, LoglikelihoodRequest, Request
from evalkit.task import RunContext, SampleResult, Task
from evalkit.window import generation_budget


def kept_prompt_tokens(request: Request, max_length: int, count_tokens: Callable[[str], int]) -> int | None:
    """Tokens of the request's prompt (BOS + context) that reach the model; None where none is cut."""
    prompt = count_tokens(request.context)
    if isinstance(request, GenerateRequest):
        budget = generation_budget(prompt, request.max_new_tokens, max_length)
        return budget.kept_tokens if budget.cut else None
    continuation = count_tokens(request.continuation) - 1
    if prompt + continuation <= max_length + 1:  # the model forwards all but the last token
        return None
    return max(0, max_length + 1 - continuation)  # the first window's context (encoding.windows)


def shots_kept(task: Task, prompt: str, kept: int, count_tokens: Callable[[str], int]) -> int:
    """Shots whose whole text is in the prompt's last `kept` tokens; a task that cannot say where its
    shots start (None) is counted as keeping none, never as keeping all."""
    starts = task.shot_starts(prompt)
    return sum(1 for start in starts or () if count_tokens(prompt[start:]) - 1 <= kept)


def count_shots(task: Task, per_doc: list[list[Request]], samples: list[SampleResult], context: RunContext) -> None:
    """Lower each sample's recorded `num_fewshot` to the shots the window let through."""
    if context.max_length is None or context.count_tokens is None:
        return  # the backend cannot count tokens: it cuts nothing either (openai: the server's window)
    for sample in samples:
        recorded = sample.extra.get("num_fewshot")
        if not recorded:
            continue
        for request in per_doc[sample.doc_id]:
            if not isinstance(request, (GenerateRequest, LoglikelihoodRequest)) or request.context != sample.prompt:
                continue  # e.g. the unconditional requests of the "answer" rule hold no shots
            kept = kept_prompt_tokens(request, context.max_length, context.count_tokens)
            if kept is not None:
                recorded = min(recorded, shots_kept(task, sample.prompt, kept, context.count_tokens))
        sample.extra["num_fewshot"] = recorded


def shots_summary(task: Task, samples: list[SampleResult]) -> dict[str, Any] | None:
    """{asked, mean, min, max} over the documents evaluated; None for a task without a few-shot setting."""
    asked = getattr(getattr(task, "protocol", None), "num_fewshot", None)
    if asked is None or not samples:
        return None
    used = [s.extra.get("num_fewshot", 0) for s in samples]  # a sample without a count had no shots
    return {"asked": asked, "mean": sum(used) / len(used), "min": min(used), "max": max(used)}
