"""Continuous batching (engine/generation.py): a waiting prompt joins the running batch when rows free up,
and every sample is the one a static batch draws (greedy and seeded sampling), at any batch size and
however often the host reads the decoding state."""
from __future__ import annotations

import math

import pytest

from evalkit.engine.batching import BatchPolicy
from evalkit.engine.generation import JOIN_CHUNK, generate
from evalkit.engine.stats import EngineStats
from evalkit.requests import GenerateRequest

PREAMBLE = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
            "One day, she saw a big red ball.\n\n")


def requests() -> list[GenerateRequest]:
    greedy = [GenerateRequest(PREAMBLE + q, until=(".",), max_new_tokens=20 + 9 * i)
              for i, q in enumerate(["Tom had a dog.", "The sun was hot. Ben", "Lily said", "A cat", "Sue ran"])]
    sampled = [GenerateRequest(PREAMBLE + "Tom", max_new_tokens=25, temperature=0.9, top_p=0.9, n=4, seed=4),
               GenerateRequest("The dog", until=("!", " the"), max_new_tokens=30, temperature=1.0, n=3, seed=2),
               GenerateRequest("Ben and Sue", max_new_tokens=12, temperature=0.7, n=2, seed=9)]
    return greedy + sampled + [GenerateRequest("Tom went to", until=("\n",), max_new_tokens=40)]


def run(stories, continuous: bool, rows: int, sync_every: int = 1):
    stats = EngineStats()
    prompts = {r: (stories.tokenizer.encode(r.context, bos=True), r.max_new_tokens) for r in requests()}
    texts = generate(stories.model, stories.tokenizer, prompts, BatchPolicy(rows, 1 << 30, False), stats, {},
                     sync_every, continuous=continuous)
    return texts, stats


@pytest.mark.parametrize("rows, sync_every", [(3, 1), (5, 4)])
def test_continuous_equals_static(stories, rows, sync_every):
    static, before = run(stories, False, rows)
    continuous, after = run(stories, True, rows, sync_every)
    assert continuous == static
    assert len(set(static[requests()[5]])) > 1  # samples differ
    assert after.samples_generated == before.samples_generated == 5 + 4 + 3 + 2 + 1
    if sync_every == 1:
        assert after.tokens_generated == before.tokens_generated
        assert after.forward_calls < before.forward_calls  # joiners fill rows the static batches leave idle


def test_static_batches_at_any_size_draw_the_same_samples(stories):
    assert run(stories, True, 64)[0] == run(stories, True, 2)[0] == run(stories, False, 64)[0]


def story(stories, name: str, tokens: int) -> str:
    """A made-up story about `name` of about `tokens` tokens (distinct from its first word on)."""
    text, i = "", 0
    while len(stories.tokenizer.encode(text, bos=True)) < tokens:
        thing = ['ball', 'cat', 'tree', 'car', 'bird'][i % 5]
        text += f"{name} saw a {['red', 'big', 'small', 'blue'][i % 4]} {thing}. "
        i += 1
    return text


@pytest.mark.parametrize("preamble", ["", PREAMBLE])
def test_a_long_joining_prompt_is_prefilled_in_chunks_between_decoding_steps(stories, preamble):
    """Rows of 3: Tom's story (1 row, 30 tokens) and Lily's (2 samples, 6 tokens) start; Ben's (2 samples)
    joins when Lily's rows end, its ~340-token prompt in two chunks, each in one forward with a decoding step
    of the batch's rows (Tom's decoding, the others padding), the weights taking their tokens stacked."""
    long = [GenerateRequest(preamble + story(stories, "Tom", 380), max_new_tokens=30),
            GenerateRequest(preamble + story(stories, "Lily", 360), max_new_tokens=6, temperature=0.8, n=2, seed=3),
            GenerateRequest(preamble + story(stories, "Ben", 340), max_new_tokens=12, temperature=1.0, n=2, seed=5)]
    prompts = {r: (stories.tokenizer.encode(r.context, bos=True), r.max_new_tokens) for r in long}
    ids = [prompts[r][0] for r in long]
    shared = next(i for i, column in enumerate(zip(*ids)) if len(set(column)) > 1)  # the preamble's tokens
    assert (shared >= 32) == bool(preamble)  # prompts that share a preamble read it cached
    ben = len(ids[2]) - (shared if preamble else 0)  # Ben's own part, forwarded when it joins
    assert JOIN_CHUNK < ben < 2 * JOIN_CHUNK

    def run(continuous: bool):
        shapes = []  # each forward's tokens as the weights take them: (rows, tokens), or (tokens,) stacked
        wq = stories.model.layers[0].attention.wq
        hook = wq.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape[:-1])))
        try:
            texts = generate(stories.model, stories.tokenizer, prompts, BatchPolicy(3, 1 << 30, False), EngineStats(),
                             {}, continuous=continuous)
        finally:
            hook.remove()
        return texts, shapes

    static, _ = run(False)
    texts, shapes = run(True)
    assert texts == static
    assert len(set(texts[long[2]])) == 2  # seeded samples differ, each the static batch's
    first_step = shapes.index((3, 1))
    assert all(math.prod(shape) <= 3 + JOIN_CHUNK for shape in shapes[first_step:])  # every step stays short
    assert [shape for shape in shapes if len(shape) == 1] == [(3 + JOIN_CHUNK,), (3 + ben - JOIN_CHUNK,)]
    assert all(shape[1] == 1 for shape in shapes[first_step:] if len(shape) == 2)  # no forward of Ben alone


OTHER = ("Tom and his dog Max went to the beach on a sunny day. They played with a ball and built a big sand "
         "castle.\n\n")


@pytest.mark.parametrize("room", [0, -1])
def test_a_prompt_of_another_preamble_joins_when_the_slot_budget_holds_its_preamble(stories, room):
    """Rows of 3: the first preamble's prompts (1 greedy row of 30 tokens, 2 samples of 6) start; when the
    samples end, a prompt of the second preamble joins, its preamble forwarded with a decoding step, if
    the slot budget holds that preamble beside the batch (room 0); one slot short (room -1), it waits for
    the next batch. Either way the texts are those of static batches."""
    encode = lambda text: stories.tokenizer.encode(text, bos=True)  # noqa: E731
    first, second = sorted([PREAMBLE, OTHER], key=encode)
    long = [GenerateRequest(first + "Lily and Tom found a little bird in the garden. It", max_new_tokens=30),
            GenerateRequest(first + "The cat", max_new_tokens=6, temperature=0.8, n=2, seed=3),
            GenerateRequest(second + "Ben said", max_new_tokens=12),
            GenerateRequest(second + "A big", max_new_tokens=10, temperature=1.0, seed=7)]
    prompts = {r: (encode(r.context), r.max_new_tokens) for r in long}
    ids = [prompts[r][0] for r in long]

    def shared(a: list[int], b: list[int]) -> int:
        return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)

    first_len, second_len = shared(ids[0], ids[1]), shared(ids[2], ids[3])  # the preambles' tokens
    assert min(first_len, second_len) >= 32 and shared(ids[0], ids[2]) < 32
    own = max(len(ids[0]), len(ids[1])) - first_len
    assert max(len(ids[2]), len(ids[3])) - second_len <= own  # the second's prompts fit the batch's slots
    # the first batch's slots (its preamble, 2 prompt slots, 3 rows of 30 tokens) and the second preamble
    slots = first_len + 2 * own + 3 * 30 + second_len + room

    def run(continuous: bool):
        shapes, stats = [], EngineStats()
        wq = stories.model.layers[0].attention.wq
        hook = wq.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape[:-1])))
        try:
            texts = generate(stories.model, stories.tokenizer, prompts, BatchPolicy(3, 1 << 30, False, slots), stats,
                             {}, continuous=continuous)
        finally:
            hook.remove()
        return texts, shapes, stats

    static, _, before = run(False)
    texts, shapes, after = run(True)
    assert texts == static
    assert len(set(texts[long[1]])) == 2
    joined = (3 + second_len,) in shapes  # the second preamble forwarded with a decoding step
    assert joined == (room == 0)
    assert ((1, second_len) in shapes) == (room != 0)  # else in a batch of its own
    if joined:
        assert after.forward_calls < before.forward_calls
