"""The sampler before the top-k prefilter, kept as a reference: every row's whole vocabulary sorted each
step. tests/test_engine_sampling_prefilter.py checks the prefilter picks the same tokens;
benchmarks/sampler_prefilter.py times both."""
from __future__ import annotations

import torch


def whole_sort(logits, temperature, top_p, uniform):
    """logits (B, V), temperature, top_p, uniform (B,) -> the token each row picks (B,)."""
    probs = torch.softmax(logits / temperature.clamp(min=1e-6)[:, None], dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
    before = sorted_probs.cumsum(-1) - sorted_probs
    sorted_probs = sorted_probs * (before < top_p[:, None])
    cdf = sorted_probs.cumsum(-1)
    pick = (cdf < (uniform * cdf[:, -1])[:, None]).sum(-1).clamp(max=logits.shape[-1] - 1)
    return torch.where(temperature == 0, logits.argmax(-1), order.gather(1, pick[:, None])[:, 0])
