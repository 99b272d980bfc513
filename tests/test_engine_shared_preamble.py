"""Prompts that start with the same few-shot preamble: it is prefilled once, read as one shared level of
cache, and generation gives the texts of prompts computed one by one (engine/generation.py)."""
from __future__ import annotations

import copy

import torch

from evalkit.engine.batching import BatchPolicy
from evalkit.engine.generation import _Preambles, _prefill, _Prompt, batch_slots, generate
from evalkit.engine.prefixes import families
from evalkit.engine.stats import EngineStats
from evalkit.requests import GenerateRequest

PREAMBLE = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
            "One day, she saw a big red ball.\n\n")
QUESTIONS = ["Tom had a dog.", "The sun was hot and the sky was blue. Ben", "Lily said"]


def requests() -> list[GenerateRequest]:
    greedy = [GenerateRequest(PREAMBLE + q, until=(".",), max_new_tokens=30) for q in QUESTIONS]
    sampled = [GenerateRequest(PREAMBLE + QUESTIONS[0], max_new_tokens=25, temperature=0.9, top_p=0.9, n=5, seed=4),
               GenerateRequest(PREAMBLE + QUESTIONS[1], until=("!",), max_new_tokens=20, temperature=1.0, n=3, seed=2)]
    return greedy + sampled + [GenerateRequest("Tom went to", max_new_tokens=15)]  # no preamble, same batch


def run(stories, share: bool, policy: BatchPolicy | None = None):
    stats = EngineStats()
    prompts = {r: (stories.tokenizer.encode(r.context, bos=True), r.max_new_tokens) for r in requests()}
    texts = generate(stories.model, stories.tokenizer, prompts, policy or BatchPolicy(64, 1 << 30, False), stats, {},
                     share_prefixes=share)
    return texts, stats


def test_shared_preamble_gives_the_texts_of_prompts_one_by_one(stories):
    shared, stats = run(stories, True)
    alone, plain = run(stories, False)
    assert shared == alone
    preamble = len(stories.tokenizer.encode(PREAMBLE + "Tom", bos=True)) - 2  # the tokens all three start with
    assert stats.prefix_tokens_reused >= 2 * preamble  # three distinct prompts, one prefill of the preamble
    assert plain.tokens_forwarded - stats.tokens_forwarded == stats.prefix_tokens_reused
    assert stats.peak_cache_bytes < plain.peak_cache_bytes


def test_budget_counts_the_preamble_once_and_allocates_as_counted(stories):
    """The slots a batch is charged (batch_slots) are the slots its caches hold: the preamble once, each
    prompt's own part padded to the longest, each row's new tokens padded to the largest budget."""
    tok = stories.tokenizer
    budget = {r: r.max_new_tokens for r in requests()}
    shared = len(PREAMBLE) // 4  # fewer tokens than the preamble holds
    batch = []
    for r in requests():
        ids = tuple(tok.encode(r.context, bos=True))
        batch.append(_Prompt(ids, [(r, k) for k in range(r.n)], budget, shared if r.context.startswith(PREAMBLE) else 0))
    policy = BatchPolicy(64, 1 << 30, False)
    assert batch_slots(batch, policy) == shared + len(batch) * max(p.own for p in batch) + 12 * 30
    assert batch_slots(batch, policy, cached={batch[0].preamble}) == batch_slots(batch, policy) - shared
    texts, stats = run(stories, True, policy)  # one batch: the peak is what it allocated
    by_ids = {}
    for r in requests():
        by_ids.setdefault(tuple(tok.encode(r.context, bos=True)), []).append(r)
    counted = [_Prompt(ids, [(r, k) for r in by_ids[ids] for k in range(r.n)], budget, len(preamble))
               for preamble, members in families(list(by_ids), lambda ids: ids) for ids in members]
    assert stats.peak_cache_bytes == batch_slots(counted, policy) * stories.model.new_cache(1, 1).nbytes


def test_float64_shared_preamble_logits_within_1e_12(stories):
    """In fp64, the last-token logits of prompts after a cached preamble are those of whole prompts."""
    model = copy.deepcopy(stories.model).double()
    model.logits = lambda hidden: model.output(hidden)  # keep fp64 (the engine's logits are fp32)
    tok = stories.tokenizer
    budget = {r: 1 for r in requests()}
    ids = [tuple(tok.encode(PREAMBLE + q, bos=True)) for q in QUESTIONS]
    shared = len(tok.encode(PREAMBLE, bos=True)) - 2
    with torch.inference_mode():
        _, whole = _prefill(model, [_Prompt(i, [], budget) for i in ids], _Preambles(model, EngineStats()),
                            EngineStats())
        _, split = _prefill(model, [_Prompt(i, [], budget, shared) for i in ids], _Preambles(model, EngineStats()),
                            EngineStats())
    assert whole.dtype == torch.float64 and (whole - split).abs().max() < 1e-12 * whole.abs().max()
