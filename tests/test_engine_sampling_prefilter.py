"""The CPU sampler's top-k prefilter picks exactly the token a sort of the whole vocabulary picks,
ties included (bf16 logits tie often), for nuclei inside and beyond the prefilter."""
from __future__ import annotations

import pytest
import torch

from evalkit.engine import sampling
from evalkit.engine.sampling import PREFILTERS, next_tokens
from whole_sort_sampling import whole_sort


@pytest.mark.parametrize("scale", [0.5, 2.0, 3.0, 12.0])  # flat to peaked distributions
def test_same_tokens_as_sorting_the_whole_vocabulary(scale, monkeypatch):
    generator = torch.Generator().manual_seed(int(scale * 10))
    rows, vocab = 512, 32000
    logits = (torch.randn(rows, vocab, generator=generator) * scale).bfloat16().float()  # bf16 grid: ties
    logits[:64, :8] = logits[:64, :1]  # exact ties at the top
    temperature = torch.tensor([0.0, 0.2, 0.6, 0.8, 1.0, 1.3, 0.1, 0.9] * (rows // 8))
    top_p = torch.tensor([0.5, 0.9, 0.95, 1.0, 0.9, 0.7, 0.99, 0.3] * (rows // 8)).roll(3)
    uniform = torch.rand(rows, generator=generator)
    uniform[:8] = torch.tensor([0.0, 0.9999999, 0.5, 1e-9, 0.25, 0.75, 0.999, 0.001])
    full = []
    monkeypatch.setattr(sampling, "_invert", lambda *a, _f=sampling._invert: (full.append(a[0].shape[-1]), _f(*a))[1])
    assert torch.equal(next_tokens(logits, temperature, top_p, uniform), whole_sort(logits, temperature, top_p, uniform))
    assert full[0] == PREFILTERS[0]  # the prefilter ran (and, for rows beyond it, the next k or a whole sort)
    if scale == 0.5:
        assert 32000 in full  # flat: some nuclei reach beyond every prefilter


def test_whole_sort_keys_order_as_a_stable_descending_sort():
    generator = torch.Generator().manual_seed(7)
    probs = torch.softmax(torch.randn(6, 32000, generator=generator).bfloat16().float(), -1)  # many ties
    probs[0, 100:200] = 0.0  # underflowed tokens: the lowest, by id
    probs[1] = probs[1, 0]  # one value everywhere: id order
    values, ids = sampling._sort_descending(probs)
    expected_values, expected_ids = probs.sort(dim=-1, descending=True, stable=True)
    assert torch.equal(ids, expected_ids) and torch.equal(values, expected_values)
