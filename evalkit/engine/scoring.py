"""Scoring continuations on token ids, each distinct context forwarded once for all its continuations.

Contexts that share a long token prefix (a few-shot preamble, a passage asked several questions) form
a family (prefixes.py) whose prefix is forwarded once. A batch of contexts is then handled in two steps:
  1. fork the prefix's KV cache per context (or start an empty one) and forward the rest of each context
     (right-padded); each context's last real position predicts every continuation's first token;
  2. fork the cache per continuation (`KVCache.select`) and forward the continuations minus their last
     token as one right-padded chunk after the cached prefix; chunk position j predicts token j + 1.
Only the gathered positions go through the output layer, so (B, T, vocab) logits never exist.

The reverse case (WinoGrande partial scoring: different contexts, one continuation) cannot share work
this way: a continuation's keys and values depend on everything before it, so nothing after the first
differing token is reusable. Only a common token prefix of the contexts is, and for WinoGrande that is
half of one short sentence shared by two rows: too little to pay for a prefix tree.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import TokenRequest
from evalkit.engine.prefixes import families
from evalkit.engine.stats import EngineStats
from evalkit.model.llama import Transformer

LOGIT_CHUNK = 1024  # positions per output-layer call: bounds the (P, vocab) fp32 logits in memory


@dataclass(frozen=True)
class TokenScore:
    loglikelihood: float
    is_greedy: bool


@dataclass
class _Group:
    """One distinct context and its distinct continuations (each at least one token)."""
    context: tuple[int, ...]
    continuations: list[tuple[int, ...]]

    @property
    def length(self) -> int:  # slots a row of this group needs in the KV cache
        return len(self.context) + max(len(c) for c in self.continuations) - 1


def score(model: Transformer, requests: list[TokenRequest], policy: BatchPolicy, stats: EngineStats,
          share_prefixes: bool = True) -> dict[TokenRequest, TokenScore]:
    """Score every distinct request; duplicates and shared contexts are computed once.

    share_prefixes=False keeps every context whole, so that a result never depends on which other
    contexts came with it (deterministic mode: bit-identical across batches, chunks and ranks).
    """
    scores = {r: TokenScore(0.0, True) for r in requests if not r.continuation}  # nothing to predict
    by_context: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for r in dict.fromkeys(requests):
        if r.continuation:
            by_context.setdefault(r.context, []).append(r.continuation)
    groups = [_Group(c, k) for c, k in by_context.items()]
    stats.requests_computed += sum(len(g.continuations) for g in groups)

    def retry() -> None:
        stats.oom_retries += 1

    # Longest first within each family, and the family with the longest member first.
    found = families(groups, lambda g: g.context) if share_prefixes else [((), groups)]
    for prefix, members in sorted(found, key=lambda f: -max(g.length for g in f[1])):
        members.sort(key=lambda g: g.length, reverse=True)
        run_batched(members, lambda g: (1, g.length - len(prefix)),
                    lambda batch: scores.update(_score_batch(model, prefix, batch, policy, stats)), policy, retry)
    return scores


def _score_batch(model: Transformer, prefix: tuple[int, ...], groups: list[_Group], policy: BatchPolicy,
                 stats: EngineStats) -> dict[TokenRequest, TokenScore]:
    """Score a batch of groups whose contexts all start with `prefix` (forwarded once, then forked)."""
    device = model.device
    suffixes, suffix_mask = pad([g.context[len(prefix):] for g in groups], left=False, device=device)  # (B, Ts)
    rows = [(g, cont) for g, group in enumerate(groups) for cont in group.continuations]
    chunk_len = max(len(cont) for _, cont in rows) - 1
    capacity = len(prefix) + suffixes.shape[1] + chunk_len
    if prefix:
        shared = model.new_cache(1, capacity)
        model.hidden_states(torch.tensor([prefix], device=device), None, shared)
        stats.count_forward(torch.ones(1, len(prefix), dtype=torch.bool))
        stats.prefix_tokens_reused += (len(groups) - 1) * len(prefix)
        cache = shared.select(torch.zeros(len(groups), dtype=torch.long, device=device))
    else:
        cache = model.new_cache(len(groups), capacity)
    hidden_suffix = model.hidden_states(suffixes, suffix_mask, cache)  # (B, Ts, dim)
    last = hidden_suffix[torch.arange(len(groups), device=device), suffix_mask.sum(dim=1) - 1]  # (B, dim)
    stats.count_forward(suffix_mask)
    stats.contexts_reused += len(rows) - len(groups)

    hidden = [last[torch.tensor([g for g, _ in rows], device=model.device)]]  # (R, dim)
    targets = [cont[0] for _, cont in rows]
    owners = list(range(len(rows)))
    long_rows = [i for i, (_, cont) in enumerate(rows) if len(cont) > 1]
    slots = [(1, capacity - chunk_len + len(rows[i][1]) - 1) for i in long_rows]
    start = 0
    while start < len(long_rows):
        chunk = long_rows[start:start + policy.take(slots, start)]
        start += len(chunk)
        forked = cache.select(torch.tensor([rows[i][0] for i in chunk], device=model.device))
        inputs, chunk_mask = pad([rows[i][1][:-1] for i in chunk], left=False, device=device)  # (r, Tk)
        hidden.append(model.hidden_states(inputs, chunk_mask, forked)[chunk_mask])  # (sum len-1, dim)
        stats.count_forward(chunk_mask)
        for i in chunk:
            targets.extend(rows[i][1][1:])
            owners.extend([i] * (len(rows[i][1]) - 1))

    logprobs, greedy = _logprobs(model, torch.cat(hidden), torch.tensor(targets, device=model.device))
    owner = torch.tensor(owners, device=model.device)
    total = torch.zeros(len(rows), dtype=torch.float64, device=model.device).index_add_(0, owner, logprobs.double())
    misses = torch.zeros(len(rows), dtype=torch.long, device=model.device).index_add_(0, owner, (~greedy).long())
    return {TokenRequest(groups[g].context, cont): TokenScore(float(total[i]), bool(misses[i] == 0))
            for i, (g, cont) in enumerate(rows)}


def _logprobs(model: Transformer, hidden: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (P, dim), targets (P,) -> log P(target) (P,) fp32 and whether target is the argmax (P,)."""
    logprobs, greedy = [], []
    for s in range(0, hidden.shape[0], LOGIT_CHUNK):
        logits = model.logits(hidden[s:s + LOGIT_CHUNK])  # (p, vocab) fp32
        t = targets[s:s + LOGIT_CHUNK]
        logprobs.append(logits.log_softmax(-1).gather(1, t[:, None])[:, 0])
        greedy.append(logits.argmax(-1) == t)
    return torch.cat(logprobs), torch.cat(greedy)
