"""KV cache: incremental decoding, chunks after a cached prefix, padded rows and forks equal full forwards."""
from __future__ import annotations

import pytest
import torch

ATOL = 2e-5
TEXTS = ["Once upon a time, there was a little girl named Lily.", "Tom and his dog went to the beach.",
         "The cat sat."]


@pytest.fixture(scope="module")
def rows(stories):
    return [stories.tokenizer.encode(text, bos=True) for text in TEXTS]


def full(model, ids: list[int]) -> torch.Tensor:
    """Logits (T, V) of one unpadded sequence in a single forward without a cache."""
    with torch.inference_mode():
        return model(torch.tensor([ids]))[0]


def pad(seqs: list[list[int]], side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """-> tokens (B, T) padded with id 0, mask (B, T) True at real tokens."""
    width = max(map(len, seqs))
    tokens, mask = torch.zeros(len(seqs), width, dtype=torch.long), torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, seq in enumerate(seqs):
        span = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        tokens[i, span], mask[i, span] = torch.tensor(seq), True
    return tokens, mask


def test_one_token_at_a_time_equals_full_forward(stories, rows):
    model, ids = stories.model, rows[0]
    cache = model.new_cache(1, len(ids))
    with torch.inference_mode():
        steps = torch.cat([model(torch.tensor([[t]]), cache=cache)[0] for t in ids])
    assert (steps - full(model, ids)).abs().max() < ATOL


def test_chunk_after_cached_prefix_equals_full_forward(stories, rows):
    model, ids = stories.model, rows[0]
    cache = model.new_cache(1, len(ids))
    with torch.inference_mode():
        head = model(torch.tensor([ids[:7]]), cache=cache)[0]
        tail = model(torch.tensor([ids[7:]]), cache=cache)[0]  # a multi-token chunk sees the prefix
    assert (torch.cat([head, tail]) - full(model, ids)).abs().max() < ATOL


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_matches_each_row(stories, rows, side):
    model = stories.model
    tokens, mask = pad(rows, side)
    with torch.inference_mode():
        logits = model(tokens, mask)
    for i, ids in enumerate(rows):
        assert (logits[i][mask[i]] - full(model, ids)).abs().max() < ATOL


def test_padded_prefill_then_padded_chunks(stories, rows):
    """Rows of different lengths share one cache; padding inside it never shifts positions."""
    model = stories.model
    prefixes, suffixes = [r[:-3] for r in rows], [r[-3:] for r in rows]
    tokens, mask = pad(prefixes, "left")
    cache = model.new_cache(len(rows), tokens.shape[1] + 6)
    with torch.inference_mode():
        model(tokens, mask, cache)
        chunk, chunk_mask = pad([s[:1] if i == 1 else s[:2] for i, s in enumerate(suffixes)], "right")
        first = model(chunk, chunk_mask, cache)            # row 1 gets one token and one pad slot
        rest, rest_mask = pad([s[2:] if i != 1 else s[1:] for i, s in enumerate(suffixes)], "right")
        second = model(rest, rest_mask, cache)
    for i, ids in enumerate(rows):
        got = torch.cat([first[i][chunk_mask[i]], second[i][rest_mask[i]]])
        assert (got - full(model, ids)[-3:]).abs().max() < ATOL


def test_forked_cache_gives_each_row_its_own_run(stories, rows):
    model = stories.model
    prompts = [rows[0][:6], rows[1][:4]]
    tokens, mask = pad(prompts, "left")
    cache = model.new_cache(2, tokens.shape[1] + 3)
    continuations = [[[10, 20, 30], [40, 50, 60], [70, 80, 90]], [[11, 21, 31], [41, 51, 61], [71, 81, 91]]]
    with torch.inference_mode():
        model(tokens, mask, cache)
        forked = cache.fork(3)                             # rows 0,0,0,1,1,1
        logits = model(torch.tensor([c for per in continuations for c in per]), cache=forked)
    for row, (prompt, per) in enumerate(zip(prompts, continuations)):
        for j, cont in enumerate(per):
            assert (logits[row * 3 + j] - full(model, prompt + cont)[-3:]).abs().max() < ATOL


def test_overflow_is_an_error(stories):
    cache = stories.model.new_cache(1, 2)
    with pytest.raises(ValueError, match="overflow"), torch.inference_mode():
        stories.model(torch.tensor([[1, 2, 3]]), cache=cache)


def test_positions_past_max_seq_len(stories):
    """The rotary table grows when positions pass max_seq_len (512 here); a cache spans the boundary."""
    from evalkit.model.llama import rope_table
    model = stories.model
    ids = torch.randint(3, 512, (1, 600), generator=torch.Generator().manual_seed(0))
    cache = model.new_cache(1, 600)
    with torch.inference_mode():
        chunks = torch.cat([model(ids[:, :500], cache=cache), model(ids[:, 500:], cache=cache)], dim=1)
        whole = model(ids)
    assert (chunks - whole).abs().max() < 1e-4
    expected = rope_table(model.cfg.head_dim, model.cfg.rope_theta, 701, torch.device("cpu"))[[0, 700]]
    assert torch.equal(model.rope(torch.tensor([[0, 700]]))[0, :, 0], expected)


def test_unpadded_decode_step_builds_no_mask(stories, rows, monkeypatch):
    """A decoding step of rows without padding reads every cached slot: SDPA gets no mask (so CUDA may run
    flash, the only fused kernel that takes grouped-query attention) and the logits of a full forward.
    A padded cache or a step whose tokens are not known real on the host still gets its mask."""
    import torch.nn.functional as F
    model, ids = stories.model, rows[0]
    masks = []
    real_sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        masks.append(attn_mask)
        return real_sdpa(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    with torch.inference_mode():
        cache = model.new_cache(2, len(ids) + 2)
        model.hidden_states(torch.tensor([ids[:-1]] * 2), None, cache)  # the prefill: causal, no mask either
        assert not cache.padded and all(m is None for m in masks)
        masks.clear()
        step = model.logits(model.hidden_states(torch.tensor([[ids[-1]]] * 2), None, cache))[:, -1]
        assert len(masks) == model.cfg.n_layers and all(m is None for m in masks)
        for row in step:
            torch.testing.assert_close(row, full(model, ids)[-1], atol=ATOL, rtol=0)

        masks.clear()  # the same step with its real-token mask as a device tensor: the host cannot know
        cache = model.new_cache(1, len(ids))
        model.hidden_states(torch.tensor([ids[:-1]]), None, cache)
        model.hidden_states(torch.tensor([[ids[-1]]]), torch.ones(1, 1, dtype=torch.bool), cache)
        assert masks[-1] is not None and cache.padded

        masks.clear()  # rows of different lengths: the cache holds padding, every step needs its mask
        tokens, mask = pad(rows[:2], "left")
        cache = model.new_cache(2, tokens.shape[1] + 1)
        model.hidden_states(tokens, mask, cache)
        model.hidden_states(torch.tensor([[ids[-1]]] * 2), None, cache)
        assert cache.padded and all(m is not None for m in masks)


def test_chunks_forwarded_together_equal_one_by_one(stories, rows):
    """hidden_states_together (a decoding step and another cache's padded prefill chunk through one pass of
    the weights) gives each chunk the hidden states, and leaves each cache as, a forward of its own."""
    model = stories.model
    two, three = pad(rows[:2], "left"), pad(rows, "left")

    def caches():
        a, b = model.new_cache(2, two[0].shape[1] + 1), model.new_cache(3, 2 * three[0].shape[1])
        model.hidden_states(*two, a)  # rows in a, next: one decoding step
        model.hidden_states(three[0][:, :4], three[1][:, :4], b)  # b's first 4 columns, next: the rest
        return a, b

    step = (torch.tensor([[5], [9]]), torch.tensor([[True], [False]]))  # row 1 forwards padding
    chunk = (three[0][:, 4:], three[1][:, 4:])
    with torch.inference_mode():
        (a, b), (a2, b2) = caches(), caches()
        alone = [model.hidden_states(*step, a), model.hidden_states(*chunk, b)]
        together = model.hidden_states_together([(*step, a2), (*chunk, b2)])
    for x, y in zip(alone, together):
        assert x.shape == y.shape and (x - y).abs().max() < ATOL
    for c, c2 in ((a, a2), (b, b2)):
        assert c.length == c2.length and torch.equal(c.valid, c2.valid) and torch.equal(c.next_pos, c2.next_pos)
        assert (c.k[:, :, :, :c.length] - c2.k[:, :, :, :c.length]).abs().max() < ATOL
