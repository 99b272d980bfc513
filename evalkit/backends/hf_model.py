"""A loaded transformers causal LM and the one forward call the hf backend makes (built by hf_loading.py).

Nothing here imports transformers, so the backend module imports without the optional extra installed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from evalkit.model.config import ModelConfig
from evalkit.model.footprint import Footprint


@dataclass
class CausalLM:
    """A transformers causal LM and what its forward accepts."""
    model: torch.nn.Module
    cache_arg: str | None            # "cache" (transformers 5) or "past_key_values"; None: no KV cache to share
    keeps_logits: bool               # forward takes logits_to_keep: a prefill skips its (B, T, V) logits
    new_cache: Callable[[], Any]     # an empty DynamicCache for this model

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor | None, cache=None,
                last_only: bool = False) -> torch.Tensor:
        """tokens (B, T) after the cache's Tc columns, mask (B, Tc + T), positions (B, T) -> fp32 logits
        (B, T, V), or (B, V) of the last column when last_only. The cache, if given, is extended in place."""
        kwargs: dict[str, Any] = {"position_ids": positions} if positions is not None else {}
        if cache is not None:
            kwargs[self.cache_arg] = cache
        if last_only and self.keeps_logits:
            kwargs["logits_to_keep"] = 1
        out = self.model(input_ids=tokens, attention_mask=mask.long(), use_cache=cache is not None, **kwargs)
        logits = out.logits.float()
        return logits[:, -1] if last_only else logits


def positions(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) real-token mask -> position of each token in its own sequence (padding gets 0)."""
    return (mask.long().cumsum(1) - 1).clamp(min=0)


def footprint(lm: CausalLM, context: int) -> Footprint | None:
    """The bundled model's footprint arithmetic (evalkit.model.footprint) for a transformers model, from its
    config's sizes (Llama names, or GPT-2's), with its forward's logits at every position counted; None
    where the config does not say them (no memory-derived batch budget then)."""
    c = lm.model.config

    def size(*names: str) -> int | None:
        return next((int(v) for v in (getattr(c, n, None) for n in names) if isinstance(v, int) and v > 0), None)

    dim, layers, heads = size("hidden_size", "n_embd"), size("num_hidden_layers", "n_layer"), \
        size("num_attention_heads", "n_head")
    vocab = size("vocab_size")
    if None in (dim, layers, heads, vocab) or dim % heads:
        return None
    cfg = ModelConfig(dim=dim, n_layers=layers, n_heads=heads, n_kv_heads=size("num_key_value_heads") or heads,
                      vocab_size=vocab, hidden_dim=size("intermediate_size", "n_inner") or 4 * dim, max_seq_len=context)
    dtype = next(lm.model.parameters()).dtype
    return Footprint(cfg, dtype.itemsize, 1, lm.device.type, logits_per_token=True)
