"""Choosing the next token: greedy, temperature, nucleus (top-p), reproducible per sample.

Each sample owns a CPU torch.Generator seeded from a stable hash of (context, seed, sample index) and
draws exactly one uniform number per sampled token. The token is found by inverting the nucleus CDF at
that number, so a sample depends only on its own request and index: not on its batch neighbours, the
batch size, n, or the device. (Holtzman et al. 2020 for top-p.)
"""
from __future__ import annotations

import hashlib
import json

import torch


def sample_generator(context: str, seed: int, index: int) -> torch.Generator:
    digest = hashlib.sha256(json.dumps([context, seed, index]).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def next_tokens(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor,
                uniform: torch.Tensor) -> torch.Tensor:
    """logits (R, V) fp32, temperature / top_p / uniform (R,) -> tokens (R,); temperature 0 is argmax."""
    greedy = logits.argmax(-1)
    probs = torch.softmax(logits / temperature.clamp(min=1e-6)[:, None], dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)  # (R, V)
    before = sorted_probs.cumsum(-1) - sorted_probs
    sorted_probs = sorted_probs * (before < top_p[:, None])  # smallest prefix with mass >= top_p
    cdf = sorted_probs.cumsum(-1)
    pick = (cdf < (uniform * cdf[:, -1])[:, None]).sum(-1).clamp(max=logits.shape[-1] - 1)  # (R,)
    sampled = order.gather(1, pick[:, None])[:, 0]
    return torch.where(temperature == 0, greedy, sampled)
