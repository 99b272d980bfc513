"""Choosing the next token: greedy, temperature, nucleus (top-p), reproducible per sample.

Each sample owns a CPU torch.Generator seeded from a stable hash of (context, seed, sample index) and
draws exactly one uniform number per sampled token. The token is found by inverting the nucleus CDF at
that number, so a sample depends only on its own request and index: not on its batch neighbours, the
batch size, or n. The draws are the same on every device, the arithmetic is not: a GPU's logits, softmax
and parallel cumsum round differently from the CPU's, so where a draw falls within rounding of a boundary
of the nucleus CDF the GPU may pick the neighbouring token (and the sample differs from there on).
(Holtzman et al. 2020 for top-p.)

The nucleus is the smallest prefix of the tokens sorted by probability (ties by token id) whose mass
reaches top_p. On the CPU only the k most likely tokens are sorted (k in PREFILTERS, the smallest that
works) when the nucleus provably lies among them (its least likely token is more likely than the k-th):
the same prefix, the same prefix sums (the CPU's cumsum is sequential), so the same token as a sort of
the whole vocabulary, at a small fraction of the cost (20x for a nucleus of a few tokens, 32k vocab);
other rows sort the whole vocabulary. A row whose top probability times k is below top_p skips k (k tokens
cannot hold the nucleus: a flat distribution, e.g. a random model's, goes straight to the whole sort),
and the whole sort is of one int64 key per token (probability bits above token id: the same order,
ties by id) through numpy, about twice as fast as torch's stable float sort. On an accelerator the whole sort is cheap, and choosing per row
would need the host to read a flag every step.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch


def sample_generator(context: str, seed: int, index: int) -> torch.Generator:
    digest = hashlib.sha256(json.dumps([context, seed, index]).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


PREFILTERS = (64, 1024)  # most likely tokens sorted on the CPU, tried in turn, when the nucleus lies among them


def next_tokens(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor,
                uniform: torch.Tensor) -> torch.Tensor:
    """logits (R, V) fp32, temperature / top_p / uniform (R,) -> tokens (R,); temperature 0 is argmax."""
    greedy = logits.argmax(-1)
    probs = torch.softmax(logits / temperature.clamp(min=1e-6)[:, None], dim=-1)  # (R, V)
    if probs.device.type == "cpu":
        sampled = _prefiltered(probs, top_p, uniform)
    else:
        sampled = _invert(*probs.sort(dim=-1, descending=True, stable=True), top_p, uniform)[0]
    return torch.where(temperature == 0, greedy, sampled)


def _invert(sorted_probs: torch.Tensor, order: torch.Tensor, top_p: torch.Tensor,
            uniform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities sorted descending (R, K) and their token ids (R, K) -> the token at `uniform` of the
    nucleus CDF (R,), and the number of tokens in the nucleus (R,)."""
    before = sorted_probs.cumsum(-1) - sorted_probs
    nucleus = before < top_p[:, None]  # smallest prefix with mass >= top_p
    cdf = (sorted_probs * nucleus).cumsum(-1)
    pick = (cdf < (uniform * cdf[:, -1])[:, None]).sum(-1).clamp(max=sorted_probs.shape[-1] - 1)  # (R,)
    return order.gather(1, pick[:, None])[:, 0], nucleus.sum(-1)


def _prefiltered(probs: torch.Tensor, top_p: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """_invert on the k most likely tokens, in the whole sort's order, for the rows whose nucleus lies
    among them; the other rows try the next k, and at last sort the whole vocabulary."""
    tokens = torch.empty(probs.shape[0], dtype=torch.long)
    rows = torch.arange(probs.shape[0])
    top = probs.amax(-1)  # (R,)
    for k in PREFILTERS:
        if k >= probs.shape[-1] or not len(rows):
            break
        # k tokens hold at most k x the top probability: below top_p the nucleus is larger than k (the cumsum's
        # rounding over fewer than k terms stays under k x top), so the prefilter would fail: skip it
        hopeless = top[rows] * k < top_p[rows]
        beyond, rows = rows[hopeless], rows[~hopeless]
        if not len(rows):
            rows = beyond
            continue
        values, ids = probs[rows].topk(k, dim=-1)  # (r, k) descending; ties in no promised order
        ids, by_id = ids.sort(dim=-1)
        values, by_value = values.gather(1, by_id).sort(dim=-1, descending=True, stable=True)  # ties by token id
        found, size = _invert(values, ids.gather(1, by_value), top_p[rows], uniform[rows])
        last = values.gather(1, (size - 1).clamp(min=0)[:, None])[:, 0]
        inside = last > values[:, -1]  # (r,): no token outside the k ties with or joins the nucleus
        tokens[rows[inside]] = found[inside]
        rows = torch.cat([beyond, rows[~inside]])
    if len(rows):
        tokens[rows] = _invert(*_sort_descending(probs[rows]), top_p[rows], uniform[rows])[0]
    return tokens


def _sort_descending(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """probs.sort(dim=-1, descending=True, stable=True) for CPU probabilities (>= 0), (R, V) -> values, ids."""
    if probs.dtype != torch.float32:
        return probs.sort(dim=-1, descending=True, stable=True)
    id_bits = max(1, (probs.shape[-1] - 1).bit_length())
    bits = probs.contiguous().view(torch.int32).long()  # a non-negative float's bits order as its value
    keys = ((0x7FFFFFFF - bits) << id_bits) | torch.arange(probs.shape[-1])  # (R, V): value descending, then id
    ids = torch.from_numpy(np.sort(keys.numpy(), axis=-1)) & ((1 << id_bits) - 1)
    return probs.gather(-1, ids), ids
