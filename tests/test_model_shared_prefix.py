"""Cascade attention (model/shared_prefix.py): samples reading their prompt's cached slots once give the
attention over a copy of those slots per row, and generation the same samples as with copies."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from evalkit.engine import Engine
from evalkit.model.shared_prefix import Level, SharedPrefix
from evalkit.requests import GenerateRequest


def copied_attention(prefix: SharedPrefix, layer, q, k, v, own_mask):
    """The reference: each row holds a copy of its sources' slots (every level's) before its own (the
    previous fork)."""
    R, _, T, _ = q.shape
    keys, values, masks = [], [], []
    for level in prefix.levels:
        rows = level.rows.clamp(min=0)
        keys.append(level.k[layer][rows])
        values.append(level.v[layer][rows])
        visible = level.valid[rows] & (level.rows >= 0)[:, None]  # a row reading no source sees none of it
        masks.append(visible[:, None, None, :].expand(R, 1, T, -1))
    if own_mask is None:
        own_mask = torch.ones(T, k.shape[2], dtype=torch.bool).tril()[None, None].expand(R, 1, T, T)
    keys, values = torch.cat(keys + [k], dim=2), torch.cat(values + [v], dim=2)
    mask = torch.cat(masks + [own_mask], dim=3)
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=q.shape[1] != k.shape[1])


def case(T: int, own: int, dtype=torch.float64, kv_heads: int = 2):
    torch.manual_seed(T + own)
    L, P, Tp, hd, nh = 2, 3, 9, 8, 4
    valid = torch.ones(P, Tp, dtype=torch.bool)
    valid[1, :4] = valid[2, :8] = False  # left-padded prompts; the last holds one token
    rows = torch.tensor([0, 0, 0, 1, 2, 2])  # unequal numbers of samples per prompt
    prefix = SharedPrefix.of(*torch.randn(2, L, P, kv_heads, Tp, hd, dtype=dtype).unbind(0), valid, rows)
    q = torch.randn(len(rows), nh, T, hd, dtype=dtype)
    k, v = torch.randn(2, len(rows), kv_heads, own, hd, dtype=dtype).unbind(0)
    own_mask = None
    if own > T:  # decoding: earlier own slots, some of them padding (rows that had finished)
        own_mask = torch.rand(len(rows), 1, T, own) < 0.7
        own_mask[..., -T:] = torch.ones(T, T, dtype=torch.bool).tril()
    return prefix, q, k, v, own_mask


@pytest.mark.parametrize("T, own, kv_heads", [(1, 6, 2), (1, 1, 4), (3, 3, 2), (2, 7, 4)])
def test_shared_prefix_attends_as_copies_of_the_prompt(T, own, kv_heads):
    prefix, q, k, v, own_mask = case(T, own, kv_heads=kv_heads)
    for layer in (0, 1):
        got = prefix.attend(layer, q, k, v, own_mask)
        assert torch.allclose(got, copied_attention(prefix, layer, q, k, v, own_mask), atol=1e-12)
    kept = torch.tensor([0, 2, 5])  # finished rows dropped: the rest read the same prompts
    got = prefix.select(kept).attend(1, q[kept], k[kept], v[kept], None if own_mask is None else own_mask[kept])
    assert torch.allclose(got, copied_attention(prefix, 1, q, k, v, own_mask)[kept], atol=1e-12)


@pytest.mark.parametrize("T, own", [(1, 6), (3, 3)])
def test_preamble_and_prompt_levels_attend_as_copies(T, own):
    """Two preambles (rows of prompts 0 and 1 read the first, of prompt 2 the second), then each prompt's own
    part, then each row's own slots: in fp64 the copied keys' attention within 1e-12, rows dropped too."""
    base, q, k, v, own_mask = case(T, own)
    L, P, KV, Tp, hd = base.levels[0].k.shape
    torch.manual_seed(5)
    preambles = [torch.randn(2, L, 1, KV, n, hd, dtype=torch.float64).unbind(0) for n in (11, 4)]
    first = torch.where(base.levels[0].rows <= 1, 0, -1)  # rows of prompts 0 and 1 read it, the others none
    second = torch.where(first < 0, 0, -1)
    prefix = SharedPrefix([Level.of(*preambles[0], torch.ones(1, 11, dtype=torch.bool), first),
                           Level.of(*preambles[1], torch.ones(1, 4, dtype=torch.bool), second)] + base.levels)
    for layer in (0, 1):
        got = prefix.attend(layer, q, k, v, own_mask)
        assert torch.allclose(got, copied_attention(prefix, layer, q, k, v, own_mask), atol=1e-12, rtol=0)
    kept = torch.tensor([1, 3, 4])
    got = prefix.select(kept).attend(0, q[kept], k[kept], v[kept], None if own_mask is None else own_mask[kept])
    assert torch.allclose(got, copied_attention(prefix, 0, q, k, v, own_mask)[kept], atol=1e-12, rtol=0)


def test_bf16_cache_is_attended_in_fp32():
    prefix, q, k, v, own_mask = case(1, 6)
    exact = copied_attention(prefix, 0, q, k, v, own_mask)
    level = prefix.levels[0]
    low = SharedPrefix.of(level.k.bfloat16(), level.v.bfloat16(), level.valid, level.rows)
    got = low.attend(0, q.bfloat16(), k.bfloat16(), v.bfloat16(), own_mask)
    assert got.dtype == torch.bfloat16
    rounded = copied_attention(low, 0, *(x.bfloat16().double() for x in (q, k, v)), own_mask)  # same inputs, fp64
    assert (got.double() - rounded).abs().max() <= 2 ** -8 * rounded.abs().max()  # the output's rounding only
    assert (got.double() - exact).abs().max() < 0.05


def test_samples_are_those_of_copied_caches(stories, monkeypatch):
    """Prompts of different lengths with 1, 5 and 12 samples, a stop string ending rows early (they are
    dropped from the cache as they finish): the same texts as with attention over a copy of the prompt
    per row, and the prompt held once."""
    requests = [GenerateRequest("Once upon a time", until=(".",), max_new_tokens=40, temperature=1.0, n=12, seed=1),
                GenerateRequest("Tom and his dog went to the park to play with a big red ball", until=(".",),
                                max_new_tokens=30, temperature=0.8, top_p=0.9, n=5, seed=2),
                GenerateRequest("Lily saw", max_new_tokens=20)]
    shared = Engine(stories)
    texts = [r.texts for r in shared.generate(requests)]
    monkeypatch.setattr(SharedPrefix, "attend", lambda self, layer, q, k, v, own_mask: copied_attention(
        self, layer, q, k, v, self.own_mask if self.own_mask is not None else own_mask))
    copied = Engine(stories)
    assert texts == [r.texts for r in copied.generate(requests)]
    assert len(set(texts[0])) > 6  # samples differ
    alone = Engine(stories).generate([dataclasses.replace(requests[1], n=1)])[0].texts  # one sample: the same way
    assert alone == texts[1][:1]
    cfg = stories.model.cfg
    slot = 2 * cfg.n_layers * cfg.kv_heads * cfg.head_dim * 4  # k and v of every layer, fp32
    prompt = max(len(stories.tokenizer.encode(r.context, bos=True)) for r in requests)  # left-padded to this
    assert shared.stats.peak_cache_bytes == slot * (3 * prompt + 18 * 40)  # prompts once, then 40 steps a row
