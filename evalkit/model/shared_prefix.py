"""Cascade attention for sampling: the rows decoding after one prompt read its cached keys once.

n samples of a prompt used to fork the prompt's KV cache into n copies, and every decoding step read
all n: for 16 samples of an 800-token GSM8K prompt, 16 x 800 slots per layer and step, against 16 x 1
new ones. Here the prompts' filled slots stay one copy (`SharedPrefix`), and each row's cache holds only
its own tokens. A step's attention is computed in two parts and merged exactly, as in cascade (or
bifurcated) attention:
  - the prompt part: the queries of all rows of a prompt stacked into one matrix, against the prompt's
    keys once (one matrix product per prompt and KV head, however many samples it has);
  - the own part: each row's queries against its own slots, under the usual mask;
  - softmax over both at once, from each part's maximum and sum of exponentials (log-sum-exp merge).
Scores, softmax and the weighted sums are in fp32 (or fp64) whatever the cache dtype (as SDPA accumulates), so
the result is the softmax over the concatenated keys, up to the order of summation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class SharedPrefix:
    """P prompts' cached slots, read by R decoding rows; rows of one prompt may be any in number."""
    k: torch.Tensor      # (L, P, KV, Tp, hd): the prompts' keys
    v: torch.Tensor      # (L, P, KV, Tp, hd)
    valid: torch.Tensor  # (P, Tp) bool: slot holds a prompt token (prompts are left-padded)
    rows: torch.Tensor   # (R,) long: each row's prompt
    slot: torch.Tensor   # (R,) long: the row's place among its prompt's rows
    width: int           # most rows of one prompt

    @classmethod
    def of(cls, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor, rows: torch.Tensor) -> "SharedPrefix":
        one_hot = F.one_hot(rows, k.shape[1])                                # (R, P)
        slot = (one_hot.cumsum(0) * one_hot).sum(1) - 1                      # earlier rows of the same prompt
        return cls(k, v, valid, rows, slot, int(one_hot.sum(0).max()) if len(rows) else 0)

    def select(self, keep: torch.Tensor) -> "SharedPrefix":
        """The rows `keep` (any order, repeats allowed), reading the same prompts."""
        return SharedPrefix.of(self.k, self.v, self.valid, self.rows[keep])

    @property
    def length(self) -> int:
        return self.k.shape[3]

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               own_mask: torch.Tensor | None) -> torch.Tensor:
        """q (R, nh, T, hd); k, v (R, KV, S, hd): each row's own slots; own_mask (R, 1, T, S) bool, or None
        for plain causal (S == T) -> attention output (R, nh, T, hd) over the prompt's slots and its own."""
        R, nh, T, hd = q.shape
        P, KV = self.k.shape[1], self.k.shape[2]
        rep, W, S = nh // KV, self.width, k.shape[2]  # query head h reads KV head h // rep
        exact = torch.promote_types(q.dtype, torch.float32)  # fp32 at least
        q = q.to(exact) * hd ** -0.5

        grouped = q.new_zeros(P, W, nh, T, hd)
        grouped[self.rows, self.slot] = q
        grouped = grouped.view(P, W, KV, rep * T, hd).transpose(1, 2).flatten(2, 3)  # (P, KV, W*rep*T, hd)
        scores = grouped @ self.k[layer].to(exact).transpose(-1, -2)                   # (P, KV, W*rep*T, Tp)
        scores.masked_fill_(~self.valid[:, None, None, :], float("-inf"))
        prompt_max, prompt_sum, prompt_out = _partial_softmax(scores, self.v[layer])  # (P, KV, W*rep*T, *)

        def by_row(x: torch.Tensor) -> torch.Tensor:  # (P, KV, W*rep*T, c) -> (R, KV, rep*T, c)
            return x.unflatten(2, (W, rep * T))[self.rows, :, self.slot]

        if own_mask is None:
            own_mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)[None, None]
        scores = q.reshape(R, KV, rep * T, hd) @ k.to(exact).transpose(-1, -2)            # (R, KV, rep*T, S)
        scores = scores.view(R, KV, rep, T, S).masked_fill(~own_mask[:, :, None], float("-inf"))
        own_max, own_sum, own_out = _partial_softmax(scores.flatten(2, 3), v)        # (R, KV, rep*T, *)

        prompt_max, prompt_sum, prompt_out = by_row(prompt_max), by_row(prompt_sum), by_row(prompt_out)
        top = torch.maximum(prompt_max, own_max)
        prompt_weight, own_weight = (prompt_max - top).exp(), (own_max - top).exp()  # (R, KV, rep*T, 1)
        out = (prompt_out * prompt_weight + own_out * own_weight) / (prompt_sum * prompt_weight + own_sum * own_weight)
        return out.view(R, nh, T, hd).to(v.dtype)


def _partial_softmax(scores: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scores (..., M, N) (each row has a finite entry), values (..., N, hd) -> the rows' maximum (..., M, 1),
    sum of exp(score - maximum) (..., M, 1), and exp(score - maximum) @ values (..., M, hd), in scores' dtype."""
    top = scores.amax(-1, keepdim=True)
    weights = (scores - top).exp()
    return top, weights.sum(-1, keepdim=True), weights @ values.to(scores.dtype)
