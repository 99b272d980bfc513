"""The engine: serves plain requests with the bundled model, fast and exactly.

Speed comes from length-sorted, padded batches; each distinct context forwarded once for all its
continuations (multiple choice); one prefill forked into n sampled rows; duplicates computed once.
Results come back in the order of the requests. See scoring.py and generation.py for the mechanics,
encoding.py for how text becomes tokens (as lm-evaluation-harness does it).
"""
from __future__ import annotations

import math

import torch

from evalkit.engine import generation, scoring
from evalkit.engine.batching import BatchPolicy
from evalkit.engine.encoding import encode_pair, generation_prompt, rolling_windows, windows
from evalkit.engine.stats import EngineStats
from evalkit.errors import RequestError
from evalkit.model.loaders import LoadedModel
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)


class Engine:
    def __init__(self, loaded: LoadedModel, batch_size: int | str = "auto", deterministic: bool = False,
                 max_length: int | None = None):
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.max_length = max_length or loaded.config.max_seq_len  # the window; longer contexts are cut
        self.deterministic = deterministic
        self.policy = BatchPolicy.from_setting(batch_size, deterministic, self.model.device)
        self.stats = EngineStats()

    @torch.inference_mode()
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        pairs = {r: encode_pair(self.tokenizer, r.context, r.continuation) for r in dict.fromkeys(requests)}
        for r, (_, continuation) in pairs.items():
            if not continuation:  # lm-eval asserts here: there is nothing to score
                raise RequestError(f"continuation {r.continuation!r} after context {_tail(r.context)} "
                                   "tokenizes to no tokens", r)
        totals = self._score_windows({r: windows(*pair, self.max_length) for r, pair in pairs.items()})
        self.stats.requests_served += len(requests)
        return [LoglikelihoodResult(*totals[r]) for r in requests]

    @torch.inference_mode()
    def loglikelihood_rolling(self, requests: list[RollingLoglikelihoodRequest]) -> list[RollingLoglikelihoodResult]:
        totals = self._score_windows({r: rolling_windows(self.tokenizer.encode(r.text), self.tokenizer.bos_id,
                                                         self.max_length) for r in dict.fromkeys(requests)})
        self.stats.requests_served += len(requests)
        return [RollingLoglikelihoodResult(*totals[r][:2]) for r in requests]

    def _score_windows(self, by_request: dict) -> dict:
        """request -> (summed log-likelihood, tokens, all greedy) over its windows, every window scored in
        one pass (shared contexts and duplicates computed once)."""
        scores = scoring.score(self.model, [w for ws in by_request.values() for w in ws], self.policy, self.stats,
                               share_prefixes=not self.deterministic)
        totals = {r: (sum(scores[w].loglikelihood for w in ws), sum(len(w.continuation) for w in ws),
                      all(scores[w].is_greedy for w in ws)) for r, ws in by_request.items()}
        for r, (total, _, _) in totals.items():
            if not math.isfinite(total):
                raise RequestError(f"the model's log-likelihood is {total} (not finite); its weights or "
                                   "dtype overflow", r)
        return totals

    @torch.inference_mode()
    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        """n samples per request; with first_sample[r] = k, only samples k..n-1 (the first k are known)."""
        prompts = {r: generation_prompt(self.tokenizer, r.context, self.max_length, r.max_new_tokens)
                   for r in dict.fromkeys(requests)}
        # prompts[r] = (prompt ids, most new tokens): generation never runs past the window
        texts = generation.generate(self.model, self.tokenizer, prompts, self.policy, self.stats, first_sample or {})
        self.stats.requests_served += len(requests)
        return [GenerateResult(texts[r]) for r in requests]


def _tail(text: str, chars: int = 40) -> str:
    """The end of a long context, enough to find the request."""
    return repr(text if len(text) <= chars else "..." + text[-chars:])
