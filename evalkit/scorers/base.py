"""The scorer interface: judgements of a task's outputs made outside the model.

A scorer (the code box now; toxicity services, local classifiers and judge models next) judges a
batch of inputs, one judgement per input, in order. Its name and version are recorded with every
judgement, and judgements are cached by (name, version, input key) so a resumed run never judges
the same input twice. A judgement that could not be made is `Failed`, never a verdict: it is not
cached, and the runner leaves its document out of the metrics and counts it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Failed:
    """No judgement: the reason (a service down after its retries, a judge that gave no verdict)."""
    reason: str


@runtime_checkable
class Scorer(Protocol):
    """- `name`: the registry name (evalkit.scorers.SCORERS), also the key of `Answer.judgements`.
    - `version`: changes whenever the same input could get a different verdict (stored with each row).
    - `judgement_type`: the dataclass `judge` returns per input; cached rows are its fields as JSON."""
    name: str
    version: str
    judgement_type: type

    def input_key(self, item: Any) -> str:
        """A stable text naming the input and every setting that changes its verdict (hashed for the cache)."""

    def judge(self, items: list[Any]) -> list[Any]:
        """One judgement (of `judgement_type`) or `Failed` per item, in order; raise ScorerError when the
        scorer cannot work at all (the run stops with one line, and a rerun resumes from the cache)."""

    def summary(self, judgements: list[Any]) -> dict[str, Any]:
        """What results.json should say about these judgements (e.g. the isolation the box had)."""
