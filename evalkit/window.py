"""The context window's rule for generation: the engine applies it, the runner counts what it changed.

A model attends to at most `max_length` tokens. Generating m tokens after a prompt of p tokens forwards
the prompt and every new token but the last: p + m - 1 tokens. So the prompt is kept whole and generation
gets the room left, m <= max_length - p + 1 (capped, never run past the window). Only a prompt that alone
exceeds the window is cut, from the left, to its last max_length tokens (one new token then fits). Both
are protocol choices recorded per task in results.json (`window`): documents whose prompt was cut and
documents whose new tokens were capped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from evalkit.requests import GenerateRequest


@dataclass(frozen=True)
class GenerationBudget:
    prompt_tokens: int    # BOS + context, as tokenized
    kept_tokens: int      # the prompt's last kept_tokens are fed to the model
    asked_new_tokens: int
    new_tokens: int       # the most new tokens generated

    @property
    def cut(self) -> bool:
        return self.kept_tokens < self.prompt_tokens

    @property
    def capped(self) -> bool:
        return self.new_tokens < self.asked_new_tokens


def generation_budget(prompt_tokens: int, max_new_tokens: int, max_length: int) -> GenerationBudget:
    kept = min(prompt_tokens, max_length)
    return GenerationBudget(prompt_tokens, kept, max_new_tokens, min(max_new_tokens, max_length - kept + 1))


def window_counts(requests_per_doc: list[list], max_length: int | None,
                  count_tokens: Callable[[str], int] | None) -> dict[str, int] | None:
    """Documents of a task whose generation prompt was cut, or whose new tokens were capped, by the
    window (None when the task generates nothing or the backend cannot count tokens)."""
    generating = [[r for r in reqs if isinstance(r, GenerateRequest)] for reqs in requests_per_doc]
    if not any(generating) or max_length is None or count_tokens is None:
        return None
    cut = capped = 0
    for reqs in generating:
        budgets = [generation_budget(count_tokens(r.context), r.max_new_tokens, max_length) for r in reqs]
        cut += any(b.cut for b in budgets)
        capped += any(b.capped for b in budgets)
    return {"max_length": max_length, "documents": len(requests_per_doc), "prompt_cut": cut,
            "new_tokens_capped": capped}
