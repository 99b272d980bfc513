"""Scoring requests as token windows and back: what every local backend (the bundled engine, transformers)
does around its forward passes, so that both tokenize, refuse and sum exactly alike.

- A continuation that tokenizes to nothing has no log-likelihood to report: an error naming the request
  (lm-eval asserts here), never a 0 with is_greedy true.
- A request's windows are summed; a sum that is not finite (NaN or inf weights, an overflowing dtype)
  stops the run naming the request, never a number that ranks choices.
"""
from __future__ import annotations

import math

import torch

from evalkit.engine.encoding import TokenRequest, encode_pair, rolling_windows, windows
from evalkit.errors import RequestError
from evalkit.requests import (LoglikelihoodRequest, LoglikelihoodResult, RollingLoglikelihoodRequest,
                              RollingLoglikelihoodResult)
from evalkit.tokenizer import Tokenizer

Totals = tuple[float, int, bool]  # summed log-likelihood, tokens scored, every token greedy


def scoring_windows(tokenizer: Tokenizer, requests: list[LoglikelihoodRequest],
                    max_length: int) -> dict[LoglikelihoodRequest, list[TokenRequest]]:
    """Each distinct request's windows (lm-eval's tokenization, see encoding.py)."""
    found = {}
    for r in dict.fromkeys(requests):
        context, continuation = encode_pair(tokenizer, r.context, r.continuation)
        if not continuation:
            raise RequestError(f"continuation {r.continuation!r} after context {_tail(r.context)} "
                               "tokenizes to no tokens", r)
        found[r] = windows(context, continuation, max_length)
    return found


def rolling_request_windows(tokenizer: Tokenizer, requests: list[RollingLoglikelihoodRequest],
                            max_length: int) -> dict[RollingLoglikelihoodRequest, list[TokenRequest]]:
    return {r: rolling_windows(tokenizer.encode(r.text), tokenizer.bos_id, max_length) for r in dict.fromkeys(requests)}


def window_totals(by_request: dict, scores: dict) -> dict:
    """request -> Totals over its windows, from each window's score (loglikelihood, is_greedy)."""
    totals = {r: (sum(scores[w].loglikelihood for w in ws), sum(len(w.continuation) for w in ws),
                  all(scores[w].is_greedy for w in ws)) for r, ws in by_request.items()}
    for r, (total, _, _) in totals.items():
        if not math.isfinite(total):
            raise RequestError(f"the model's log-likelihood is {total} (not finite); its weights or dtype overflow", r)
    return totals


class WindowScoring:
    """loglikelihood and loglikelihood_rolling for a local backend that has `tokenizer`, `max_length`,
    `stats` and `score_windows(windows) -> {window: score}` (its forward passes)."""

    @torch.inference_mode()
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        totals = self._totals(scoring_windows(self.tokenizer, requests, self.max_length))
        self.stats.requests_served += len(requests)
        return [LoglikelihoodResult(*totals[r]) for r in requests]

    @torch.inference_mode()
    def loglikelihood_rolling(self, requests: list[RollingLoglikelihoodRequest]) -> list[RollingLoglikelihoodResult]:
        totals = self._totals(rolling_request_windows(self.tokenizer, requests, self.max_length))
        self.stats.requests_served += len(requests)
        return [RollingLoglikelihoodResult(*totals[r][:2]) for r in requests]

    def _totals(self, by_request: dict) -> dict:
        """Every window of every request scored in one pass (shared contexts and duplicates computed once)."""
        return window_totals(by_request, self.score_windows([w for ws in by_request.values() for w in ws]))


def _tail(text: str, chars: int = 40) -> str:
    """The end of a long context, enough to find the request."""
    return repr(text if len(text) <= chars else "..." + text[-chars:])
