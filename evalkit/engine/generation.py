"""Generation: one prefill per distinct prompt, its KV cache forked into a row per sample, then all rows
decoded together, one token per step, until each stops (stop string, EOS, or its new-token budget:
max_new_tokens capped to the room left in the window, see evalkit.window).

Stop strings are searched in the decoded text, not in token ids, because one may span two tokens
(or end inside one); the returned text is cut before the first stop string. Finished rows are dropped
from the cache once a quarter of the rows have finished, so long tails do not pay for short ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import continuation_text
from evalkit.engine.sampling import next_tokens, sample_generator
from evalkit.engine.stats import EngineStats
from evalkit.errors import RequestError
from evalkit.model.llama import Transformer
from evalkit.requests import GenerateRequest
from evalkit.tokenizer import Tokenizer

CACHE_SCALE = 8  # a decoding row holds its whole KV cache but forwards one token: allow 8x the token budget


@dataclass
class _Prompt:
    """Distinct prompt ids and the distinct requests that share them (e.g. different seeds)."""
    ids: tuple[int, ...]
    requests: list[GenerateRequest]
    first: dict[GenerateRequest, int]   # index of each request's first sample to generate
    budget: dict[GenerateRequest, int]  # most new tokens of each request

    @property
    def cost(self) -> tuple[int, int]:  # (decoding rows, cache slots per row)
        return sum(r.n - self.first[r] for r in self.requests), \
            len(self.ids) + max(self.budget[r] for r in self.requests)


@dataclass
class _Sample:
    prompt: int                         # index of its prompt in the batch
    request: GenerateRequest
    generator: torch.Generator | None  # None when greedy
    budget: int                        # most new tokens
    tokens: list[int] = field(default_factory=list)
    done: bool = False


def generate(model: Transformer, tokenizer: Tokenizer, prompts: dict[GenerateRequest, tuple[list[int], int]],
             policy: BatchPolicy, stats: EngineStats,
             first_sample: dict[GenerateRequest, int]) -> dict[GenerateRequest, tuple[str, ...]]:
    """Texts of samples first_sample.get(r, 0) .. r.n - 1 of every distinct request; `prompts` maps each
    to its prompt ids and its most new tokens (both already fitted to the window)."""
    first = {r: min(first_sample.get(r, 0), max(r.n, 0)) for r in prompts}
    budget = {r: new for r, (_, new) in prompts.items()}
    # nothing to decode: no new tokens allowed (empty texts), or every asked-for sample is known
    texts = {r: ("",) * (r.n - first[r]) for r in prompts if budget[r] <= 0 or first[r] >= r.n}
    by_ids: dict[tuple[int, ...], list[GenerateRequest]] = {}
    for request, (ids, _) in prompts.items():
        if request not in texts:
            by_ids.setdefault(tuple(ids), []).append(request)
    groups = sorted((_Prompt(ids, reqs, first, budget) for ids, reqs in by_ids.items()),
                    key=lambda p: p.cost[1], reverse=True)
    stats.requests_computed += sum(len(p.requests) for p in groups)

    def run(batch: list[_Prompt]) -> None:
        texts.update(_generate_batch(model, tokenizer, batch, stats))

    def retry() -> None:
        stats.oom_retries += 1

    run_batched(groups, lambda p: p.cost, run, policy, retry, scale=CACHE_SCALE)
    return texts


def _generate_batch(model: Transformer, tokenizer: Tokenizer, prompts: list[_Prompt],
                    stats: EngineStats) -> dict[GenerateRequest, tuple[str, ...]]:
    device = model.device
    samples = [_Sample(p, r, sample_generator(r.context, r.seed, k) if r.temperature > 0 else None,
                       prompt.budget[r])
               for p, prompt in enumerate(prompts) for r in prompt.requests for k in range(prompt.first[r], r.n)]
    tokens, mask = pad([p.ids for p in prompts], left=True, device=device)  # (B, Tc)
    cache = model.new_cache(len(prompts), tokens.shape[1] + max(s.budget for s in samples))
    last = model.hidden_states(tokens, mask, cache)[:, -1]  # (B, dim)
    stats.count_forward(mask)
    rows = torch.tensor([s.prompt for s in samples], device=device)
    cache, logits = cache.select(rows), model.logits(last)[rows]  # (R, ...), (R, vocab)
    temperature = torch.tensor([s.request.temperature for s in samples], device=device)
    top_p = torch.tensor([s.request.top_p for s in samples], device=device)
    live = torch.arange(len(samples), device=device)  # sample index of each cache row

    while True:
        _check_finite(logits, [None if samples[i].done else samples[i].request for i in live.tolist()])
        uniform = torch.tensor([0.0 if s.generator is None or s.done else float(torch.rand((), generator=s.generator))
                                for s in (samples[i] for i in live.tolist())], device=device)
        chosen = next_tokens(logits, temperature[live], top_p[live], uniform)  # (R,)
        going = []
        for i, token in zip(live.tolist(), chosen.tolist()):
            sample = samples[i]
            if not sample.done:
                _append(sample, token, prompts[sample.prompt].ids, tokenizer)
                going.append(not sample.done)
            else:
                going.append(False)
        keep = torch.tensor(going, device=device)
        if not keep.any():
            break
        if (~keep).sum() * 4 >= len(going):  # drop finished rows
            cache, live, chosen, keep = cache.select(keep.nonzero()[:, 0]), live[keep], chosen[keep], keep[keep]
        step_mask = keep[:, None]  # (R, 1): finished rows still present forward padding
        logits = model.logits(model.hidden_states(chosen[:, None], step_mask, cache)[:, -1])
        stats.count_forward(step_mask)

    stats.samples_generated += len(samples)
    stats.tokens_generated += sum(len(s.tokens) for s in samples)
    texts: dict[GenerateRequest, list[str]] = {}
    for s in samples:
        text = continuation_text(tokenizer, list(prompts[s.prompt].ids), s.tokens)
        texts.setdefault(s.request, []).append(cut_at_stop(text, s.request.until))
    return {r: tuple(t) for r, t in texts.items()}


def _check_finite(logits: torch.Tensor, requests: list[GenerateRequest | None]) -> None:
    """logits (R, vocab) of rows asking `requests` (None: a finished row): NaN or inf would be sampled as
    if it were a choice."""
    finite = torch.isfinite(logits).all(dim=-1) | torch.tensor([r is None for r in requests],
                                                                device=logits.device)  # (R,)
    if not bool(finite.all()):
        raise RequestError("the model's next-token logits are not finite; its weights or dtype overflow",
                           requests[int((~finite).nonzero()[0, 0])])


def _append(sample: _Sample, token: int, prompt: tuple[int, ...], tokenizer: Tokenizer) -> None:
    if token == tokenizer.eos_id:
        sample.done = True
        return
    sample.tokens.append(token)
    if len(sample.tokens) >= sample.budget:
        sample.done = True
    elif any(sample.request.until):
        text = continuation_text(tokenizer, list(prompt), sample.tokens)
        sample.done = any(stop and stop in text for stop in sample.request.until)


def cut_at_stop(text: str, until: tuple[str, ...]) -> str:
    """text up to the earliest occurrence of any (non-empty) stop string."""
    found = [text.find(stop) for stop in until if stop and stop in text]
    return text[:min(found)] if found else text
