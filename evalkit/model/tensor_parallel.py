"""Tensor parallelism: the LLaMA transformer split over T ranks the way Meta's model-parallel shards are.

Megatron-LM's scheme (Shoeybi et al. 2019), as fairscale's layers in facebookresearch/llama `model.py`:
- wq, wk, wv, w1, w3 are column-parallel: each rank holds its heads' (its FFN columns') output rows,
  so attention and the SwiGLU product run on local heads/columns with no communication;
- wo, w2 are row-parallel: each rank multiplies its slice of the input features, and one all-reduce
  sums the partial outputs: one all-reduce after attention, one after the feed-forward;
- tok_embeddings is split by embedding dim (as Meta's ParallelEmbedding): look up the local columns,
  all-gather them; the output layer is split by vocabulary rows: local logits, all-gathered;
- norms are replicated.
Tokens are chosen from the all-gathered logits, which are the same tensor on every rank, so greedy and
sampled decoding (one generator per sample, seeded from the request) cannot diverge across ranks.

With grouped-query attention and fewer KV heads than ranks (T % n_kv_heads == 0), each rank holds the one
KV head its query heads read: KV heads are replicated over T / n_kv_heads ranks.

The process group comes from the caller (a DeviceMesh's "tp" dimension, see evalkit.serving.distributed);
this module only does the arithmetic and the collectives.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from evalkit.errors import UsageError
from evalkit.model.config import ModelConfig


@dataclass(frozen=True)
class TensorParallel:
    rank: int    # this process's place among the T ranks of its replica
    size: int    # T
    group: object = None  # torch.distributed ProcessGroup of the replica's ranks (None when size is 1)


@dataclass(frozen=True)
class Slice:
    """The part of a full (Meta-layout) tensor one rank holds: [start, stop) along `dim`, zero-padded to
    `length` rows (only the output layer pads, when T does not divide the vocabulary)."""
    dim: int
    start: int
    stop: int
    length: int


def check(cfg: ModelConfig, size: int, source: str) -> None:
    """Refuse (UsageError, one line) a split the model's shape does not allow, before any weight is read."""
    problems = []
    if cfg.n_heads % size:
        problems.append(f"{cfg.n_heads} attention heads")
    if cfg.kv_heads % size and size % cfg.kv_heads:
        problems.append(f"{cfg.kv_heads} key/value heads (T must divide them or be a multiple of them)")
    if cfg.ffn_dim % size:
        problems.append(f"a feed-forward size of {cfg.ffn_dim}")
    if problems:
        raise UsageError(f"--tensor-parallel {size}: {source} cannot be split {size} ways: it has "
                         f"{' and '.join(problems)}")


def kv_heads_per_rank(cfg: ModelConfig, size: int) -> int:
    return max(1, cfg.kv_heads // size)


def rank_slice(name: str, cfg: ModelConfig, tp: TensorParallel) -> Slice | None:
    """Which part of the Meta-named full tensor `name` rank `tp.rank` holds (None: the whole, replicated)."""
    r, T, hd = tp.rank, tp.size, cfg.head_dim
    kind = name.split(".")[-2]  # layers.3.attention.wq.weight -> wq
    if kind in ("wq", "wo"):
        heads = cfg.n_heads // T
        return Slice(0 if kind == "wq" else 1, r * heads * hd, (r + 1) * heads * hd, heads * hd)
    if kind in ("wk", "wv"):
        local = kv_heads_per_rank(cfg, T)
        first = r * local if cfg.kv_heads >= T else r // (T // cfg.kv_heads)  # query heads' KV head(s)
        return Slice(0, first * hd, (first + local) * hd, local * hd)
    if kind in ("w1", "w3", "w2"):
        cols = cfg.ffn_dim // T
        return Slice(1 if kind == "w2" else 0, r * cols, (r + 1) * cols, cols)
    if kind == "tok_embeddings":
        cols = cfg.dim // T
        return Slice(1, r * cols, (r + 1) * cols, cols)
    if kind == "output":
        rows = -(-cfg.vocab_size // T)  # ceil: the last rank pads
        return Slice(0, min(r * rows, cfg.vocab_size), min((r + 1) * rows, cfg.vocab_size), rows)
    return None  # norms


def _gather_last(x: torch.Tensor, tp: TensorParallel) -> torch.Tensor:
    """(..., n) on each rank -> (..., T * n): the ranks' tensors side by side, identical on every rank."""
    parts = [torch.empty_like(x) for _ in range(tp.size)]
    dist.all_gather(parts, x.contiguous(), group=tp.group)
    return torch.cat(parts, dim=-1)


class ColumnParallelLinear(nn.Linear):
    """Holds out_features / T output rows; its output stays split (the next op is per head / per column)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)  # (..., out / T)


class RowParallelLinear(nn.Linear):
    """Holds in_features / T input columns; its partial products are summed over the ranks (one all-reduce)."""

    def __init__(self, in_local: int, out_features: int, tp: TensorParallel):
        super().__init__(in_local, out_features, bias=False)
        self.tp = tp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight)  # (..., out) partial sum
        dist.all_reduce(out, group=self.tp.group)
        return out


class ParallelEmbedding(nn.Embedding):
    """Holds dim / T columns of the embedding: look up the local ones, all-gather to (..., dim)."""

    def __init__(self, vocab: int, dim_local: int, tp: TensorParallel):
        super().__init__(vocab, dim_local)
        self.tp = tp

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return _gather_last(F.embedding(tokens, self.weight), self.tp)  # (B, T, dim)


class VocabParallelOutput(nn.Linear):
    """Holds ceil(vocab / T) rows of the output layer: local logits, all-gathered to (..., vocab)."""

    def __init__(self, dim: int, vocab: int, tp: TensorParallel):
        super().__init__(dim, -(-vocab // tp.size), bias=False)
        self.vocab, self.tp = vocab, tp

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return _gather_last(F.linear(hidden, self.weight), self.tp)[..., :self.vocab]  # (..., vocab)


def parallelize(model: nn.Module, tp: TensorParallel) -> None:
    """Swap the Transformer's layers (built on the meta device) for their rank-local parallel versions and
    set the per-rank head counts; the weights are assigned afterwards (evalkit.model.loaders.sliced)."""
    cfg: ModelConfig = model.cfg
    hd, T = cfg.head_dim, tp.size
    heads, kv = cfg.n_heads // T, kv_heads_per_rank(cfg, T)
    model.tok_embeddings = ParallelEmbedding(cfg.vocab_size, cfg.dim // T, tp)
    model.output = VocabParallelOutput(cfg.dim, cfg.vocab_size, tp)  # tied weights become two slices
    model.kv_heads = kv  # the KV cache holds this rank's heads only
    model.tensor_parallel = T  # memory budgets count this rank's share (evalkit.model.footprint)
    for layer in model.layers:
        attention, ffn = layer.attention, layer.feed_forward
        attention.n_heads, attention.n_kv_heads = heads, kv
        attention.wq = ColumnParallelLinear(cfg.dim, heads * hd, bias=False)
        attention.wk = ColumnParallelLinear(cfg.dim, kv * hd, bias=False)
        attention.wv = ColumnParallelLinear(cfg.dim, kv * hd, bias=False)
        attention.wo = RowParallelLinear(heads * hd, cfg.dim, tp)
        ffn.w1 = ColumnParallelLinear(cfg.dim, cfg.ffn_dim // T, bias=False)
        ffn.w3 = ColumnParallelLinear(cfg.dim, cfg.ffn_dim // T, bias=False)
        ffn.w2 = RowParallelLinear(cfg.ffn_dim // T, cfg.dim, tp)
