"""The `hf` backend: any transformers causal LM, by folder or Hub id (`pip install 'evalkit[hf]'`).

Requests become tokens by the bundled engine's rules (evalkit/engine/encoding.py) through the model's own
tokenizer, so the same weights and tokenizer give the bundled model's log-likelihoods (to float noise)
and its greedy text. Speed comes from length-sorted padded batches and, where the model takes a KV cache,
each distinct context (and a few-shot preamble common to many) forwarded once for all its continuations
(hf_scoring.py) and one prefill per prompt for all its samples (hf_generation.py).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from evalkit.backends import hf_generation, hf_scoring
from evalkit.backends.base import BackendOptions
from evalkit.backends.hf_model import CausalLM, footprint
from evalkit.backends.hf_tokenizer import HFTokenizer
from evalkit.backends.llama import rank_device
from evalkit.engine.batching import BatchPolicy
from evalkit.engine.encoding import generation_prompt
from evalkit.engine.engine import ACCELERATOR_SYNC_EVERY
from evalkit.engine.request_windows import WindowScoring
from evalkit.engine.stats import EngineStats
from evalkit.errors import UsageError
from evalkit.model.auto_dtype import resolve_dtype
from evalkit.model.loaders.common import file_fingerprint
from evalkit.requests import GenerateRequest, GenerateResult, Request

MIN_TRANSFORMERS = (4, 40)
INSTALL_HINT = "pip install 'evalkit[hf]'"


def require_transformers():
    """The transformers module, or one line saying how to install the extra."""
    try:
        import transformers
    except ImportError:
        raise UsageError(f"the hf backend needs transformers, which is not installed: {INSTALL_HINT}") from None
    found = tuple(int(p) for p in transformers.__version__.split(".")[:2])
    if found < MIN_TRANSFORMERS:
        raise UsageError(f"the hf backend needs transformers>={'.'.join(map(str, MIN_TRANSFORMERS))}, found "
                         f"{transformers.__version__}: {INSTALL_HINT}")
    return transformers


def load(options: BackendOptions) -> "HFBackend":
    transformers = require_transformers()
    if not options.model:
        raise UsageError("the hf backend needs --model: a transformers model folder or a Hugging Face Hub id")
    from evalkit.backends import hf_loading  # imports transformers

    folder = hf_loading.resolve(options.model)
    dtype = resolve_dtype(options.dtype, rank_device(options.device))
    tokenizer, lm = hf_loading.load_pretrained(folder, options.model, dtype.dtype, rank_device(options.device))
    weights = file_fingerprint(hf_loading.fingerprinted_files(folder))
    return HFBackend(lm, HFTokenizer(tokenizer, options.model), options, weights, hf_loading.max_length(lm.model),
                     transformers.__version__, dtype.reason)


class HFBackend(WindowScoring):
    name = "hf"
    counts_locally = True  # count_tokens runs the tokenizer in this process (cheap)

    def __init__(self, lm: CausalLM, tokenizer: HFTokenizer, options: BackendOptions, weights: str, max_length: int,
                 transformers_version: str, dtype_reason: str | None = None):
        """weights: a fingerprint of the folder's config, tokenizer and weight files; dtype_reason: why
        --dtype auto chose the model's dtype (None where it was not asked)."""
        self.lm = lm
        self.tokenizer = tokenizer
        self.options = options
        self.max_length = max_length
        # the dtype changes answers; batched (shared) and deterministic (one row) scoring differ in the last bits
        self.fingerprint = "hf:" + hashlib.sha256(f"{weights}:{lm.model.dtype}".encode()).hexdigest()[:16] + \
            f":max_length={max_length}:deterministic={options.deterministic}"
        self.transformers_version = transformers_version
        self.dtype_reason = dtype_reason
        self.deterministic = options.deterministic
        # batch_size auto on a GPU: budgets from the free memory after the weights, as the llama backend's
        self.policy = BatchPolicy.from_setting(options.batch_size, options.deterministic, lm.device,
                                               footprint(lm, max_length), max_length, options.device_memory)
        self.sync_every = 1 if lm.device.type == "cpu" else ACCELERATOR_SYNC_EVERY
        self.stats = EngineStats()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, bos=True))

    def describe(self) -> dict[str, Any]:
        model = self.lm.model
        name = self.options.model
        return {"name": name, "label": Path(name.rstrip("/")).name, "format": "hf", "backend": self.name,
                "fingerprint": self.fingerprint, "dtype": str(model.dtype).replace("torch.", ""),
                "device": self.options.device, "params": sum(p.numel() for p in model.parameters()),
                "model_type": model.config.model_type, "max_length": self.max_length,
                "transformers": self.transformers_version, "shared_contexts": self.lm.cache_arg is not None,
                **({"dtype_auto": self.dtype_reason} if self.dtype_reason else {})}

    def expect(self, task: str, documents: list[tuple[str, list[Request]]], keys: list[str]) -> None:
        pass  # answers are computed, whatever document asks

    def score_windows(self, windows: list) -> dict:
        return hf_scoring.score(self.lm, windows, self.policy, self.stats, share_contexts=not self.deterministic)

    @torch.inference_mode()
    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        """n samples per request; with first_sample[r] = k, only samples k..n-1 (the first k are known)."""
        prompts = {r: generation_prompt(self.tokenizer, r.context, self.max_length, r.max_new_tokens)
                   for r in dict.fromkeys(requests)}
        texts = hf_generation.generate(self.lm, self.tokenizer, prompts, self.policy, self.stats, first_sample or {},
                                       self.sync_every)
        self.stats.requests_served += len(requests)
        return [GenerateResult(texts[r]) for r in requests]
