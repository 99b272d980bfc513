"""Memory footprint of a LLaMA model from its config alone: parameters, weights, KV cache and activations.

Shared by `run_eval.py plan` and the engine's automatic batch size, so both count the same way. Sizes
are per rank of a T-way tensor-parallel split as Meta's shards split the model (attention heads and
FFN columns divided by T; embedding and output divided by T; norms replicated; with fewer KV heads
than ranks each rank keeps one KV head).

Activations per token (the largest tensors alive at once in one layer's forward, in the model dtype
unless said): the residual stream, its normed copy and the attention block's output (3 x dim), the
SwiGLU gate, up and product (3 x ffn_dim / T), the q, k, v projections ((n_heads + 2 kv_heads) x hd / T),
the fp32 rotary copies of q and k (4 bytes each) and RMSNorm's fp32 input (4 x dim), plus the attention
mask (one bool per visible key slot: `context` bytes). A fused SDPA kernel (flash, memory-efficient) never
builds the score matrix; the math kernel does, and the footprint counts it where it runs (`attention_kernel`):
fp32 scores and probabilities for each query head and key slot (8 x heads x `context` bytes per token), and
with grouped-query attention K and V repeated to every query head. Scoring's packed rows and padded
prefills always carry a mask, so their kernel is the masked one's; a decoding row pays the math kernel's
scores over its slots (`context`) only where its step is masked.
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


def attention_kernel(device: str, gqa: bool, masked: bool) -> str:
    """The SDPA kernel PyTorch dispatches to for the model's attention (fp16/bf16/fp32, head_dim <= 256):
    on CUDA, flash without a mask, memory-efficient with one, and with grouped-query attention (enable_gqa)
    flash or else math, since the memory-efficient kernel does not take enable_gqa (aten's sdp_utils); the
    CPU's flash kernel takes masks and grouped queries. torch._fused_sdp_choice tells on a live device
    (benchmarks/gpu_check.py prints it per path)."""
    if device != "cuda" or not masked:
        return "flash"
    return "math" if gqa else "memory-efficient"


@dataclass(frozen=True)
class Footprint:
    """Bytes of one rank of a `tp`-way split of `cfg` in a dtype of `dtype_bytes` bytes per element, on a
    `device` of that type (it picks the attention kernel, see attention_kernel)."""
    cfg: ModelConfig
    dtype_bytes: int
    tp: int = 1
    device: str = "cuda"
    logits_per_token: bool = False  # transformers: a forward returns (B, T, vocab) logits, then fp32 log-softmax

    @property
    def masked_kernel(self) -> str:
        """The kernel of a masked forward (packed scoring rows, padded prefills and decoding steps)."""
        return attention_kernel(self.device, self.cfg.kv_heads != self.cfg.n_heads, True)

    def math_scores_bytes(self, context: int) -> int:
        """One query's math-kernel temporaries against `context` keys: fp32 scores and probabilities per
        query head, and (grouped-query attention) its share of K and V repeated to every query head."""
        heads = self.cfg.n_heads // self.tp
        repeated = 2 * heads * self.cfg.head_dim * 4 if self.cfg.kv_heads != self.cfg.n_heads else 0
        return 8 * heads * context + repeated

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
        scores = self.math_scores_bytes(context) if self.masked_kernel == "math" else 0
        logits = cfg.vocab_size * (b + 8) if self.logits_per_token else 0  # model dtype, fp32 copy, log-softmax
        return b * (3 * cfg.dim + 3 * cfg.ffn_dim // t + q + 2 * kv) + 4 * (q + kv) + 4 * cfg.dim + context + scores \
            + logits

    @property
    def decode_row_bytes(self) -> int:
        """Per decoding row: the last position's logits and the sampler's temporaries, and where a masked
        step runs the math kernel its scores over a full window (module doc)."""
        scores = self.math_scores_bytes(self.cfg.max_seq_len) if self.masked_kernel == "math" else 0
        return DECODE_ROW_VOCAB_BYTES * self.cfg.vocab_size + 4 * self.cfg.dim + scores
