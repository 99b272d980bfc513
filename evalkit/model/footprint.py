"""Memory footprint of a LLaMA model from its config alone: parameters, weights, KV cache and activations.

Shared by `run_eval.py plan` and the engine's automatic batch size, so both count the same way. Sizes
are per rank of a T-way tensor-parallel split as Meta's shards split the model (attention heads and
FFN columns divided by T; embedding and output divided by T; norms replicated; with fewer KV heads
than ranks each rank keeps one KV head).

Activations per token (the largest tensors alive at once in one layer's forward, in the model dtype
unless said): the residual stream, its normed copy and the attention block's output (3 x dim), the
SwiGLU gate, up and product (3 x ffn_dim / T), the q, k, v projections ((n_heads + 2 kv_heads) x hd / T),
the fp32 rotary copies of q and k (4 bytes each) and RMSNorm's fp32 input (4 x dim), plus the attention
mask (one bool per visible key slot: `context` bytes; the fused SDPA kernel never builds the score matrix).
Logits are gathered only where they are read, so they are counted per decoding row, with the sampler's
temporaries: DECODE_ROW_VOCAB_BYTES bytes per vocabulary entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from evalkit.model.config import ModelConfig

DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}
DECODE_ROW_VOCAB_BYTES = 24  # fp32 logits, tempered probs, kept probs and CDF (4 x 4) + int64 order (8)


def param_count(cfg: ModelConfig) -> int:
    """Parameters as the released checkpoints store them (the tied output counted once)."""
    D, F, L, V, hd = cfg.dim, cfg.ffn_dim, cfg.n_layers, cfg.vocab_size, cfg.head_dim
    attention = D * cfg.n_heads * hd * 2 + D * cfg.kv_heads * hd * 2  # wq, wo; wk, wv
    per_layer = attention + 3 * D * F + 2 * D                         # + w1, w2, w3, two norms
    embeddings = V * D * (1 if cfg.tie_embeddings else 2)
    return L * per_layer + embeddings + D


def paper_count(params: int) -> str:
    """6738415616 -> '6.7B': truncated to one decimal, as Table 2 of the paper prints them (65.29B -> 65.2B)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if params >= size:
            return f"{math.floor(params / size * 10) / 10:.1f}{unit}"
    return str(params)


def valid_tp(cfg: ModelConfig, t: int) -> bool:
    """T splits the model as Meta's shards do: it divides the query heads, and divides or is a multiple of
    the KV heads (fewer KV heads than ranks: each rank keeps the one its queries read)."""
    kv = cfg.kv_heads
    return cfg.n_heads % t == 0 and (kv % t == 0 or t % kv == 0)


@dataclass(frozen=True)
class Footprint:
    """Bytes of one rank of a `tp`-way split of `cfg` in a dtype of `dtype_bytes` bytes per element."""
    cfg: ModelConfig
    dtype_bytes: int
    tp: int = 1

    @property
    def weight_bytes(self) -> int:
        cfg, t = self.cfg, self.tp
        norms = (2 * cfg.n_layers + 1) * cfg.dim  # replicated on every rank
        split = param_count(cfg) - norms
        if cfg.kv_heads < t:  # wk, wv: one KV head per rank instead of kv_heads / t
            kv = 2 * cfg.n_layers * cfg.dim * cfg.head_dim
            split += kv * cfg.kv_heads * (t // cfg.kv_heads - 1)
        return (math.ceil(split / t) + norms) * self.dtype_bytes

    @property
    def kv_heads_per_rank(self) -> int:
        return max(1, self.cfg.kv_heads // self.tp)

    @property
    def kv_bytes_per_token(self) -> int:
        """One KV-cache slot: k and v of every layer."""
        return 2 * self.cfg.n_layers * self.kv_heads_per_rank * self.cfg.head_dim * self.dtype_bytes

    def activation_bytes_per_token(self, context: int) -> int:
        """Largest live activations of one token's forward, attending to `context` key slots (module doc)."""
        cfg, t, b = self.cfg, self.tp, self.dtype_bytes
        hd = cfg.head_dim
        q, kv = cfg.n_heads * hd // t, self.kv_heads_per_rank * hd
        return b * (3 * cfg.dim + 3 * cfg.ffn_dim // t + q + 2 * kv) + 4 * (q + kv) + 4 * cfg.dim + context

    @property
    def decode_row_bytes(self) -> int:
        """Per decoding row: the last position's logits and the sampler's temporaries (module doc)."""
        return DECODE_ROW_VOCAB_BYTES * self.cfg.vocab_size + 4 * self.cfg.dim
