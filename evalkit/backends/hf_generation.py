"""Generation with a transformers model: one prefill per distinct prompt, its KV cache expanded to a row
per sample, then all rows decoded together one token per step until each stops.

Tokens are chosen exactly as the bundled engine chooses them (evalkit/engine/sampling.py: one generator
per (request, seed, sample index), one uniform draw per sampled token), and stop strings and EOS are
handled as there, so the same weights give the same greedy text and, up to floating-point ties, the same
samples. Prompts are left-padded so that every row's next token goes in the same column; a model that
takes no KV cache re-forwards its whole rows each step (slow, but the same answers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from evalkit.backends.hf_model import CausalLM, positions
from evalkit.backends.hf_tokenizer import HFTokenizer
from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import continuation_text
from evalkit.engine.generation import plan
from evalkit.engine.sampling import next_tokens, sample_generator
from evalkit.engine.stats import EngineStats
from evalkit.requests import GenerateRequest, cut_at_stop


@dataclass
class _Sample:
    prompt: tuple[int, ...]
    request: GenerateRequest
    generator: torch.Generator | None  # None when greedy
    budget: int                        # most new tokens (max_new_tokens fitted to the window)
    tokens: list[int] = field(default_factory=list)
    done: bool = False


def generate(lm: CausalLM, tokenizer: HFTokenizer, prompts: dict[GenerateRequest, tuple[list[int], int]],
             policy: BatchPolicy,
             stats: EngineStats, first_sample: dict[GenerateRequest, int]) -> dict[GenerateRequest, tuple[str, ...]]:
    """Texts of samples first_sample.get(r, 0) .. r.n - 1 of every distinct request; `prompts` maps each to
    its prompt ids and its most new tokens (both already fitted to the window)."""
    budget, first, texts, by_ids = plan(prompts, first_sample)
    stats.requests_computed += sum(len(reqs) for reqs in by_ids.values())

    def cost(item: tuple[tuple[int, ...], list[GenerateRequest]]) -> tuple[int, int]:  # (rows, cache slots per row)
        ids, reqs = item
        return sum(r.n - first[r] for r in reqs), len(ids) + max(budget[r] for r in reqs)

    def run(batch: list[tuple[tuple[int, ...], list[GenerateRequest]]]) -> None:
        samples = [_Sample(ids, r, sample_generator(r.context, r.seed, k) if r.temperature > 0 else None, budget[r])
                   for ids, reqs in batch for r in reqs for k in range(first[r], r.n)]
        _decode(lm, tokenizer, [ids for ids, _ in batch], samples, stats)
        for s in samples:
            text = cut_at_stop(continuation_text(tokenizer, list(s.prompt), s.tokens), s.request.until)
            texts[s.request] = texts.get(s.request, ()) + (text,)

    def retry() -> None:
        stats.oom_retries += 1

    groups = sorted(by_ids.items(), key=lambda item: cost(item)[1], reverse=True)
    run_batched(groups, cost, run, policy, retry, slots=True)
    return texts


def _decode(lm: CausalLM, tokenizer: HFTokenizer, prompts: list[tuple[int, ...]], samples: list[_Sample],
            stats: EngineStats) -> None:
    """Fill each sample's tokens; samples of prompt i are rows with s.prompt == prompts[i]."""
    device = lm.device
    tokens, mask = pad(prompts, left=True, device=device)  # (B, Tc)
    cache = lm.new_cache() if lm.cache_arg else None
    logits = lm.forward(tokens, mask, positions(mask), cache, last_only=True)  # (B, V)
    stats.count_forward(mask)
    index = {ids: i for i, ids in enumerate(prompts)}
    rows = torch.tensor([index[s.prompt] for s in samples], device=device)  # (R,)
    logits, tokens, mask = logits[rows], tokens[rows], mask[rows]
    if cache is not None:
        cache.batch_select_indices(rows)
    temperature = torch.tensor([s.request.temperature for s in samples], device=device)
    top_p = torch.tensor([s.request.top_p for s in samples], device=device)
    live = torch.arange(len(samples), device=device)  # sample index of each row

    while True:
        uniform = torch.tensor([0.0 if s.generator is None or s.done else float(torch.rand((), generator=s.generator))
                                for s in (samples[i] for i in live.tolist())], device=device)
        chosen = next_tokens(logits, temperature[live], top_p[live], uniform)  # (R,)
        going = []
        for i, token in zip(live.tolist(), chosen.tolist()):
            sample = samples[i]
            if not sample.done:
                _append(sample, token, tokenizer)
            going.append(not sample.done)
        keep = torch.tensor(going, device=device)  # (R,)
        if not keep.any():
            break
        if (~keep).sum() * 4 >= len(going):  # drop finished rows
            alive = keep.nonzero()[:, 0]
            if cache is not None:
                cache.batch_select_indices(alive)
            live, chosen, keep, tokens, mask = live[alive], chosen[alive], keep[alive], tokens[alive], mask[alive]
        tokens, mask = torch.cat([tokens, chosen[:, None]], 1), torch.cat([mask, keep[:, None]], 1)  # (R, T + 1)
        if cache is not None:  # finished rows still present forward a masked token
            step = mask.sum(1, keepdim=True) - 1  # (R, 1) the new token's position
            logits = lm.forward(chosen[:, None], mask, step, cache, last_only=True)
        else:
            logits = lm.forward(tokens, mask, positions(mask), last_only=True)
        stats.count_forward(keep[:, None])

    stats.samples_generated += len(samples)
    stats.tokens_generated += sum(len(s.tokens) for s in samples)


def _append(sample: _Sample, token: int, tokenizer: HFTokenizer) -> None:
    if token == tokenizer.eos_id:
        sample.done = True
        return
    sample.tokens.append(token)
    if len(sample.tokens) >= sample.budget:
        sample.done = True
    elif any(sample.request.until):
        text = continuation_text(tokenizer, list(sample.prompt), sample.tokens)
        sample.done = any(stop and stop in text for stop in sample.request.until)
