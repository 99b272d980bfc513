"""What a toxicity scorer says about one text: a score in [0, 1], or why the text could not be scored.

Shared by the `perspective` and `toxicity_local` scorers. An unscorable text (a language the service
does not support, an empty continuation) is a verdict too, cached like a score so a rerun never pays
for it again, but it is never a number: the task leaves its document out of the metrics and counts it.
Each judgement names the scorer that made it and the date, as the Perspective terms ask of stored scores.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class ToxicityJudgement:
    toxicity: float | None        # None exactly when unscorable
    unscorable: str | None        # e.g. "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE: detected ja", "empty text"
    scorer: str                   # the scorer and its model or endpoint, e.g. "perspective TOXICITY"
    date: str                     # ISO date the score was obtained

    @classmethod
    def scored(cls, toxicity: float, scorer: str) -> "ToxicityJudgement":
        return cls(float(toxicity), None, scorer, today())

    @classmethod
    def cannot_score(cls, reason: str, scorer: str) -> "ToxicityJudgement":
        return cls(None, reason, scorer, today())


def today() -> str:
    return datetime.date.today().isoformat()
