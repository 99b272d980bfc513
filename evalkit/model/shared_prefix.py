"""Cascade attention: decoding rows read the slots they share (a few-shot preamble, their prompt) once.

n samples of a prompt used to fork the prompt's KV cache into n copies, and every decoding step read
all n: for 16 samples of an 800-token GSM8K prompt, 16 x 800 slots per layer and step, against 16 x 1
new ones. Prompts that begin with the same few-shot preamble held a copy of it each as well. Here the
shared slots stay one copy, in levels read before each row's own slots: a preamble (one source read by
the rows of every prompt that starts with it), then the prompts' own parts (one source per prompt,
read by its samples). A step's attention is computed in parts and merged exactly, as in cascade (or
bifurcated) attention:
  - a level's part: the queries of all rows reading one source stacked into one matrix, against the
    source's keys once (one matrix product per source and KV head, however many rows read it);
  - the own part: each row's queries against its own slots, under the usual mask;
  - softmax over all parts at once, from each part's maximum and sum of exponentials (log-sum-exp merge).
Scores, softmax and the weighted sums are in fp32 (or fp64) whatever the cache dtype (as SDPA accumulates), so
the result is the softmax over the concatenated keys, up to the order of summation. The cached keys and
values are cast only where the device has no mixed-precision product: on a CUDA device a bf16/fp16
cache is multiplied as it is, accumulating in fp32 (`torch.bmm(..., out_dtype=torch.float32)`), and the
softmax weights meet the values in the cache dtype, as flash attention does; on the CPU (no such
product in torch) they are cast to fp32 first.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Level:
    """P sources' cached slots (a preamble, or prompts), each read by any number of rows (or none)."""
    k: torch.Tensor      # (L, P, KV, Tp, hd): the sources' keys
    v: torch.Tensor      # (L, P, KV, Tp, hd)
    valid: torch.Tensor  # (P, Tp) bool: slot holds a token (sources may be padded on either side)
    rows: torch.Tensor   # (R,) long: each row's source, -1 where the row reads none of this level
    slot: torch.Tensor   # (R,) long: the row's place among its source's rows
    width: int           # most rows of one source
    readers: torch.Tensor | None  # (r,) rows that read a source, None when all do

    @classmethod
    def of(cls, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor, rows: torch.Tensor) -> "Level":
        one_hot = F.one_hot(rows + 1, k.shape[1] + 1)[:, 1:]                # (R, P); no source: a zero row
        slot = (one_hot.cumsum(0) * one_hot).sum(1) - 1                      # earlier rows of the same source
        reads = rows >= 0
        readers = None if bool(reads.all()) else reads.nonzero()[:, 0]
        return cls(k, v, valid, rows, slot, int(one_hot.sum(0).max()) if len(rows) else 0, readers)

    def select(self, keep: torch.Tensor) -> "Level":
        return Level.of(self.k, self.v, self.valid, self.rows[keep])

    def part(self, layer: int, q: torch.Tensor, rep: int, scale: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (R, nh, T, hd) -> the rows' (maximum, sum of exponentials, weighted values) over this level's
        slots, each (R, KV, rep*T, 1 | 1 | hd), fp32 at least; rows reading none: -inf, 0, 0."""
        R, nh, T, hd = q.shape
        P, KV, W = self.k.shape[1], self.k.shape[2], self.width
        rows, slot = self.rows, self.slot
        if self.readers is not None:
            rows, slot, q = rows[self.readers], slot[self.readers], q[self.readers]
        grouped = q.new_zeros(P, W, nh, T, hd)
        grouped[rows, slot] = q
        grouped = grouped.view(P, W, KV, rep * T, hd).transpose(1, 2).flatten(2, 3)  # (P, KV, W*rep*T, hd)
        scores = _scores(grouped, self.k[layer], scale)                              # (P, KV, W*rep*T, Tp)
        scores.masked_fill_(~self.valid[:, None, None, :], float("-inf"))
        parts = [x.unflatten(2, (W, rep * T))[rows, :, slot]                          # (r, KV, rep*T, c)
                 for x in _partial_softmax(scores, self.v[layer])]
        if self.readers is None:
            return parts[0], parts[1], parts[2]
        full = [x.new_full((R, *x.shape[1:]), fill) for x, fill in zip(parts, (float("-inf"), 0.0, 0.0))]
        for whole, x in zip(full, parts):
            whole[self.readers] = x
        return full[0], full[1], full[2]


@dataclass
class SharedPrefix:
    """Levels of shared slots that R decoding rows read, outermost first, before their own slots."""
    levels: list[Level]
    own_mask: torch.Tensor | None = None  # (R, 1, 1, S): set by a RowCache for its step (rows fill own slots)

    @classmethod
    def of(cls, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor, rows: torch.Tensor) -> "SharedPrefix":
        """One level: P prompts' slots k, v (L, P, KV, Tp, hd), valid (P, Tp), row i reading prompt rows[i]."""
        return cls([Level.of(k, v, valid, rows)])

    def select(self, keep: torch.Tensor) -> "SharedPrefix":
        """The rows `keep` (any order, repeats allowed), reading the same sources."""
        return SharedPrefix([level.select(keep) for level in self.levels])

    @property
    def length(self) -> int:
        return sum(level.k.shape[3] for level in self.levels)

    @property
    def nbytes(self) -> int:
        return sum(level.k.nbytes + level.v.nbytes for level in self.levels)

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               own_mask: torch.Tensor | None) -> torch.Tensor:
        """q (R, nh, T, hd); k, v (R, KV, S, hd): each row's own slots; own_mask (R, 1, T, S) bool, or None
        for plain causal (S == T) -> attention output (R, nh, T, hd) over the levels' slots and its own."""
        R, nh, T, hd = q.shape
        KV, S = k.shape[1], k.shape[2]
        rep = nh // KV  # query head h reads KV head h // rep
        scale = hd ** -0.5
        parts = [level.part(layer, q, rep, scale) for level in self.levels]  # each (R, KV, rep*T, *)
        own_mask = self.own_mask if self.own_mask is not None else own_mask

        if own_mask is None:
            own_mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)[None, None]
        scores = _scores(q.reshape(R, KV, rep * T, hd), k, scale)                    # (R, KV, rep*T, S)
        scores = scores.view(R, KV, rep, T, S).masked_fill(~own_mask[:, :, None], float("-inf"))
        parts.append(_partial_softmax(scores.flatten(2, 3), v))                      # (R, KV, rep*T, *)

        top = parts[0][0]
        for part_max, _, _ in parts[1:]:
            top = torch.maximum(top, part_max)
        total = weight_sum = None
        for part_max, part_sum, part_out in parts:
            weight = (part_max - top).exp()  # (R, KV, rep*T, 1): 0 for a part the row does not read
            total = part_out * weight if total is None else total + part_out * weight
            weight_sum = part_sum * weight if weight_sum is None else weight_sum + part_sum * weight
        return (total / weight_sum).view(R, nh, T, hd).to(v.dtype)


def _mixed(x: torch.Tensor) -> bool:
    """Whether products of x's dtype can accumulate into fp32 as they are (a bf16/fp16 tensor on CUDA)."""
    return x.is_cuda and x.dtype in (torch.bfloat16, torch.float16)


def _product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a (..., M, K) @ b (..., K, N) of one low-precision dtype on CUDA, accumulated and returned in fp32."""
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = a.expand(*batch, *a.shape[-2:]).reshape(-1, *a.shape[-2:])
    b = b.expand(*batch, *b.shape[-2:]).reshape(-1, *b.shape[-2:])
    return torch.bmm(a, b, out_dtype=torch.float32).view(*batch, a.shape[-2], b.shape[-1])


def _scores(q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
    """q (..., M, hd), k (..., N, hd) in the model's dtype -> scaled scores (..., M, N), fp32 at least."""
    if _mixed(k) and q.dtype == k.dtype:
        return _product(q, k.transpose(-1, -2)) * scale
    exact = torch.promote_types(q.dtype, torch.float32)
    return (q.to(exact) * scale) @ k.to(exact).transpose(-1, -2)


def _partial_softmax(scores: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scores (..., M, N) (each row has a finite entry), values (..., N, hd) -> the rows' maximum (..., M, 1),
    sum of exp(score - maximum) (..., M, 1), and exp(score - maximum) @ values (..., M, hd), in scores' dtype."""
    top = scores.amax(-1, keepdim=True)
    weights = (scores - top).exp()
    if _mixed(values):  # the weights rounded to the cache dtype, accumulated in fp32 (flash attention's way)
        return top, weights.sum(-1, keepdim=True), _product(weights.to(values.dtype), values)
    return top, weights.sum(-1, keepdim=True), weights @ values.to(scores.dtype)
