"""The engine: serves plain requests with the bundled model, fast and exactly.

Speed comes from packed rows without padding, each distinct context forwarded once for all its
continuations (multiple choice, scoring.py); one prefill forked into n sampled rows; duplicates computed once.
Results come back in the order of the requests. See scoring.py and generation.py for the mechanics,
encoding.py for how text becomes tokens (as lm-evaluation-harness does it).
"""
from __future__ import annotations

import torch

from evalkit.engine import generation, scoring
from evalkit.engine.batching import BatchPolicy
from evalkit.engine.encoding import generation_prompt
from evalkit.engine.request_windows import WindowScoring
from evalkit.engine.stats import EngineStats
from evalkit.model.footprint import Footprint
from evalkit.model.loaders import LoadedModel
from evalkit.requests import GenerateRequest, GenerateResult

ACCELERATOR_SYNC_EVERY = 8  # each read-back of the decoding state waits for the device's queue to drain


class Engine(WindowScoring):
    def __init__(self, loaded: LoadedModel, batch_size: int | str = "auto", deterministic: bool = False,
                 max_length: int | None = None, device_memory: int | None = None, sync_every: int | None = None):
        """device_memory: bytes free for batches, for batch_size "auto" (default: asked of a CUDA device).
        sync_every: decoding steps between the host's reads of the decoding state (default: every step on
        the CPU, where a read costs nothing, ACCELERATOR_SYNC_EVERY elsewhere; the outputs are the same)."""
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.max_length = max_length or loaded.config.max_seq_len  # the window; longer contexts are cut
        self.deterministic = deterministic
        footprint = Footprint(self.model.cfg, self.model.dtype.itemsize, self.model.tensor_parallel,
                              self.model.device.type)
        self.policy = BatchPolicy.from_setting(batch_size, deterministic, self.model.device, footprint,
                                               self.max_length, device_memory)
        self.stats = EngineStats()
        self.sync_every = sync_every or (1 if self.model.device.type == "cpu" else ACCELERATOR_SYNC_EVERY)

    def score_windows(self, windows: list) -> dict:
        return scoring.score(self.model, windows, self.policy, self.stats, share_prefixes=not self.deterministic)

    @torch.inference_mode()
    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        """n samples per request; with first_sample[r] = k, only samples k..n-1 (the first k are known)."""
        prompts = {r: generation_prompt(self.tokenizer, r.context, self.max_length, r.max_new_tokens)
                   for r in dict.fromkeys(requests)}
        # prompts[r] = (prompt ids, most new tokens): generation never runs past the window
        texts = generation.generate(self.model, self.tokenizer, prompts, self.policy, self.stats, first_sample or {},
                                    self.sync_every, share_prefixes=not self.deterministic)
        self.stats.requests_served += len(requests)
        return [GenerateResult(texts[r]) for r in requests]

