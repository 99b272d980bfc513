"""Scorers: judgements of outputs from outside the model, chosen by the tasks that need them.

A task declares `scorers()` (name -> settings); each module here exposes `load(settings, progress, desc)`
and is imported only when a task asks for it. stage.py runs the declared scorers between the backend's
answers and `task.process`, through the judgement cache.
"""
from __future__ import annotations

import importlib
from typing import Any

from evalkit.errors import UsageError
from evalkit.scorers.base import Failed, Scorer

__all__ = ["SCORERS", "Failed", "Scorer", "load_scorer", "runs_untrusted_code"]

SCORERS = {
    "code_execution": "evalkit.scorers.code_execution",  # programs in the box (HumanEval, MBPP)
}
UNTRUSTED_CODE = {"code_execution"}  # refused unless the user allows running model-generated code


def runs_untrusted_code(task) -> bool:
    """Whether evaluating `task` executes model-generated code (asked before any model is loaded)."""
    return bool(UNTRUSTED_CODE & set(task.scorers()))


def load_scorer(name: str, settings: dict[str, Any], progress: bool = True, desc: str = "judging") -> Scorer:
    if name not in SCORERS:
        raise UsageError(f"unknown scorer {name!r}; known: {', '.join(SCORERS)}")
    return importlib.import_module(SCORERS[name]).load(settings, progress=progress, desc=desc)
