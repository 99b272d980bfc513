"""The llama backend: the bundled LLaMA implementation (evalkit/model) served by the engine (evalkit/engine).

The default backend, and where speed comes from: length-sorted batches, shared contexts computed once,
one prefill for n samples (see evalkit/engine/engine.py). `--model` is anything evalkit's loaders read:
`tiny`, a llama2.c .bin, a Meta folder, a Hugging Face folder or Hub id.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from evalkit.backends.base import BackendOptions
from evalkit.engine import Engine, EngineStats
from evalkit.model.auto_dtype import resolve_dtype
from evalkit.model.llama import Transformer
from evalkit.model.loaders import LoadedModel, load_model
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult, Request,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)


class LlamaBackend:
    name = "llama"
    counts_locally = True  # count_tokens runs the tokenizer in this process (cheap)

    def __init__(self, loaded: LoadedModel, batch_size: int | str = "auto", deterministic: bool = False,
                 device: str = "cpu", tensor_parallel: int = 1, dtype_reason: str | None = None,
                 device_memory: int | None = None, tp_group=None):
        """device_memory: bytes free for batches (None: asked of a CUDA device); tp_group: the process group
        of this rank's tensor-parallel replica, whose ranks agree on their batch budgets."""
        self.loaded = loaded
        self.dtype_reason = dtype_reason  # why --dtype auto chose the model's dtype (None: not asked)
        self.engine = Engine(loaded, batch_size=batch_size, deterministic=deterministic, device_memory=device_memory)
        self.device = device  # as asked (e.g. "cuda"), recorded in results
        self.tensor_parallel = tensor_parallel
        if tensor_parallel > 1:  # one rank halving its batch on out-of-memory would desynchronize the collectives
            from evalkit.serving.distributed import agreed_minimum
            self.engine.policy.auto = False
            self.engine.policy.agree(lambda values: agreed_minimum(values, tp_group))

    @property
    def max_length(self) -> int:
        return self.engine.max_length

    @property
    def fingerprint(self) -> str:
        """Weights, tokenizer and dtype (the loader's fingerprint), the window that cuts long contexts, and
        deterministic mode (unbatched, so bit-identical run to run on one kind of device; batched results
        may differ in the last bits)."""
        split = f":tensor_parallel={self.tensor_parallel}" if self.tensor_parallel > 1 else ""  # sums in another order
        return f"{self.loaded.fingerprint}:max_length={self.engine.max_length}:deterministic={self.engine.deterministic}{split}"

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats

    def count_tokens(self, text: str) -> int:
        return len(self.loaded.tokenizer.encode(text, bos=True))

    def describe(self) -> dict[str, Any]:
        loaded, model = self.loaded, self.loaded.model
        label = loaded.name if loaded.format == "tiny" else Path(loaded.name.rstrip("/")).name
        split = {"tensor_parallel": self.tensor_parallel} if self.tensor_parallel > 1 else {}
        whole = model if not split else full_model(model.cfg)  # a rank holds only its slice
        return {"name": loaded.name, "label": Path(label).stem if loaded.format == "llama2c" else label,
                "format": loaded.format, "fingerprint": loaded.fingerprint,
                "dtype": str(model.dtype).replace("torch.", ""), "device": self.device,
                "params": sum(p.numel() for p in whole.parameters()), "config": asdict(model.cfg),
                "backend": self.name, **split,
                **({"dtype_auto": self.dtype_reason} if self.dtype_reason else {})}

    def expect(self, task: str, documents: list[tuple[str, list[Request]]], keys: list[str]) -> None:
        pass  # answers are computed, whatever document asks

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self.engine.loglikelihood(requests)

    def loglikelihood_rolling(self, requests: list[RollingLoglikelihoodRequest]) -> list[RollingLoglikelihoodResult]:
        return self.engine.loglikelihood_rolling(requests)

    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        return self.engine.generate(requests, first_sample)


def full_model(cfg) -> torch.nn.Module:
    """The whole model's shapes, on the meta device (no memory)."""
    with torch.device("meta"):
        return Transformer(cfg)


def rank_device(device: str) -> str:
    """Under a launcher (torchrun, accelerate: WORLD_SIZE > 1) each rank takes its own GPU: "cuda" means
    this rank's cuda:LOCAL_RANK."""
    if device == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def load(options: BackendOptions) -> LlamaBackend:
    """The model, whole or (with --tensor-parallel T) this rank's slice of it."""
    from evalkit.serving.distributed import tensor_parallel
    tp = tensor_parallel(options.tensor_parallel)
    dtype = resolve_dtype(options.dtype, rank_device(options.device))
    loaded = load_model(options.model or "tiny", device=rank_device(options.device), dtype=dtype.dtype, tp=tp)
    return LlamaBackend(loaded, options.batch_size, options.deterministic, options.device, options.tensor_parallel,
                        dtype.reason, options.device_memory, tp.group)
