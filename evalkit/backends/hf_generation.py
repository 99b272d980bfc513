"""Generation with a transformers model: one prefill per distinct prompt, its KV cache expanded to a row
per sample, then all rows decoded together one token per step until each stops.

Tokens are chosen exactly as the bundled engine chooses them (evalkit/engine/sampling.py: one generator
per (request, seed, sample index), one uniform draw per sampled token), and stop strings and EOS are
handled as there, so the same weights give the same greedy text and, up to floating-point ties, the same
samples. Prompts are left-padded so that every row's next token goes in the same column; a model that
takes no KV cache re-forwards its whole rows each step (slow, but the same answers).

The chosen tokens stay on the device; the host reads them back every `sync_every` steps (each read waits
for the device's queue to drain), then walks each row's new tokens in order: EOS, the budget, or a stop
string found in the last few tokens' text (a tail window, not the whole text re-decoded per token) ends
the row at that token, and what the row decoded after it until the read is dropped. So the texts do not
depend on `sync_every`. Each sample's uniform draws are made at the start, one per step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from evalkit.backends.hf_model import CausalLM, positions
from evalkit.backends.hf_tokenizer import HFTokenizer
from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import continuation_text
from evalkit.engine.generation import plan
from evalkit.engine.sampling import next_tokens, sample_generator
from evalkit.engine.stats import EngineStats
from evalkit.requests import GenerateRequest, cut_at_stop


TAIL_SLACK = 4  # tokens decoded beyond the longest stop string's length in characters
LEAD = 4        # tokens before the tail window, decoded with it for its leading space


@dataclass
class _Sample:
    prompt: tuple[int, ...]
    request: GenerateRequest
    uniform: torch.Tensor  # (budget,) one draw per step (zeros when greedy)
    budget: int            # most new tokens (max_new_tokens fitted to the window)
    tokens: list[int] = field(default_factory=list)
    done: bool = False


def generate(lm: CausalLM, tokenizer: HFTokenizer, prompts: dict[GenerateRequest, tuple[list[int], int]],
             policy: BatchPolicy, stats: EngineStats, first_sample: dict[GenerateRequest, int],
             sync_every: int = 1) -> dict[GenerateRequest, tuple[str, ...]]:
    """Texts of samples first_sample.get(r, 0) .. r.n - 1 of every distinct request; `prompts` maps each to
    its prompt ids and its most new tokens (both already fitted to the window)."""
    budget, first, texts, by_ids = plan(prompts, first_sample)
    stats.requests_computed += sum(len(reqs) for reqs in by_ids.values())

    def cost(item: tuple[tuple[int, ...], list[GenerateRequest]]) -> tuple[int, int]:  # (rows, cache slots per row)
        ids, reqs = item
        return policy.cache_cost(sum(r.n - first[r] for r in reqs), len(ids) + max(budget[r] for r in reqs))

    def run(batch: list[tuple[tuple[int, ...], list[GenerateRequest]]]) -> None:
        samples = [_Sample(ids, r, torch.rand(budget[r], generator=sample_generator(r.context, r.seed, k))
                           if r.temperature > 0 else torch.zeros(budget[r]), budget[r])
                   for ids, reqs in batch for r in reqs for k in range(first[r], r.n)]
        _decode(lm, tokenizer, [ids for ids, _ in batch], samples, stats, sync_every)
        for s in samples:
            text = cut_at_stop(continuation_text(tokenizer, list(s.prompt), s.tokens), s.request.until)
            texts[s.request] = texts.get(s.request, ()) + (text,)

    def retry() -> None:
        stats.oom_retries += 1

    groups = sorted(by_ids.items(), key=lambda item: cost(item)[1], reverse=True)
    run_batched(groups, cost, run, policy, retry, slots=True)
    return texts


def _decode(lm: CausalLM, tokenizer: HFTokenizer, prompts: list[tuple[int, ...]], samples: list[_Sample],
            stats: EngineStats, sync_every: int) -> None:
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
    steps = max(s.budget for s in samples)
    temperature = torch.tensor([s.request.temperature for s in samples], device=device)  # (R,)
    top_p = torch.tensor([s.request.top_p for s in samples], device=device)              # (R,)
    uniform = torch.stack([F.pad(s.uniform, (0, steps - s.budget)) for s in samples]).to(device)  # (R, steps)
    live = list(range(len(samples)))  # sample index of each row
    live_device = torch.arange(len(samples), device=device)
    pending: list[torch.Tensor] = []  # (L,) tokens chosen since the last read-back

    for step in range(steps):
        chosen = next_tokens(logits, temperature[live_device], top_p[live_device], uniform[live_device, step])  # (L,)
        pending.append(chosen)
        if len(pending) == sync_every or step + 1 == steps:
            going = _read_back(torch.stack(pending, 1), [samples[i] for i in live], tokenizer)  # (L,) on the host
            pending = []
            if not any(going):
                break
            if going.count(False) * 4 >= len(going):  # drop finished rows
                alive = torch.tensor([i for i, g in enumerate(going) if g], device=device)
                if cache is not None:
                    cache.batch_select_indices(alive)
                live = [i for i, g in zip(live, going) if g]
                live_device, chosen, tokens, mask = live_device[alive], chosen[alive], tokens[alive], mask[alive]
        # rows that ended since the last read forward on (their tokens are dropped): no read per step
        tokens = torch.cat([tokens, chosen[:, None]], 1)                                   # (L, T + 1)
        mask = torch.cat([mask, torch.ones_like(chosen, dtype=torch.bool)[:, None]], 1)   # (L, T + 1)
        if cache is not None:
            step_at = mask.sum(1, keepdim=True) - 1  # (L, 1) the new token's position
            logits = lm.forward(chosen[:, None], mask, step_at, cache, last_only=True)
        else:
            logits = lm.forward(tokens, mask, positions(mask), last_only=True)
        stats.count_step(len(live), len(live))

    stats.samples_generated += len(samples)
    stats.tokens_generated += sum(len(s.tokens) for s in samples)


def _read_back(chosen: torch.Tensor, rows: list[_Sample], tokenizer: HFTokenizer) -> list[bool]:
    """chosen (L, k): the rows' tokens of the last k steps, read back at once and appended in step order
    until each row ends -> whether each row is still decoding."""
    for sample, new in zip(rows, chosen.tolist()):
        for token in new:
            if sample.done:
                break
            _append(sample, token, tokenizer)
    return [not s.done for s in rows]


def _append(sample: _Sample, token: int, tokenizer: HFTokenizer) -> None:
    if token == tokenizer.eos_id:
        sample.done = True
        return
    sample.tokens.append(token)
    stops = [stop for stop in sample.request.until if stop]
    if len(sample.tokens) >= sample.budget:
        sample.done = True
    elif stops:
        window = max(len(stop) for stop in stops) + TAIL_SLACK  # each token holds a character or more
        tail = sample.tokens[-window:]
        lead = (list(sample.prompt) + sample.tokens[:-window] if len(sample.tokens) > window
                else list(sample.prompt))[-LEAD:]  # what precedes the window, for its leading space
        text = continuation_text(tokenizer, lead, tail)
        sample.done = any(stop in text for stop in stops)
