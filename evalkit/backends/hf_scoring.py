"""Scoring token requests with a transformers model: each distinct context forwarded once for all its
continuations where the model takes a KV cache, whole sequences otherwise.

Shared (a batch of distinct contexts of one family, evalkit/engine/prefixes.py: contexts with a long
common prefix, such as a few-shot preamble):
  1. the family's prefix is forwarded once into a cache and expanded to a row per context; the rest of
     each context follows, left-padded so that each one's last token sits in the last column (the mask
     hides the padding between prefix and rest); that column's logits predict every continuation's
     first token;
  2. the cache is expanded to one row per continuation longer than one token (`batch_select_indices`) and
     the continuations minus their last token are forwarded after it, right-padded, at positions that
     continue each context; column j predicts token j + 1. The attention mask covers the context's
     padding and the continuation's, so no row sees another's padding.
Whole (no cache, or deterministic mode): each context + continuation[:-1] is one right-padded row, so a
result never depends on which other requests shared its batch (one row per forward when deterministic).
"""
from __future__ import annotations

import time

import torch

from evalkit.backends.hf_model import CausalLM, positions
from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import TokenRequest
from evalkit.engine.prefixes import families
from evalkit.engine.scoring import TokenScore, request_scores
from evalkit.engine.stats import EngineStats

Group = tuple[tuple[int, ...], list[tuple[int, ...]]]  # a distinct context and its distinct continuations


def score(lm: CausalLM, requests: list[TokenRequest], policy: BatchPolicy, stats: EngineStats,
          share_contexts: bool = True) -> dict[TokenRequest, TokenScore]:
    """Score every distinct request; duplicates (and, when sharing, common contexts) are computed once."""
    start = time.perf_counter()
    scores = {r: TokenScore(0.0, True) for r in requests if not r.continuation}  # nothing to predict
    by_context: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for r in dict.fromkeys(requests):
        if r.continuation:
            by_context.setdefault(r.context, []).append(r.continuation)
    stats.requests_computed += sum(len(conts) for conts in by_context.values())

    def retry() -> None:
        stats.oom_retries += 1

    if share_contexts and lm.cache_arg:
        # longest first within each family, and the family with the longest member first
        found = families(list(by_context.items()), lambda g: g[0])
        for prefix, members in sorted(found, key=lambda f: -max(_length(*g) for g in f[1])):
            members.sort(key=lambda g: _length(*g), reverse=True)
            run_batched(members, lambda g: (len(g[1]), _length(*g) - len(prefix)),
                        lambda batch: scores.update(_shared(lm, prefix, batch, stats)), policy, retry)
    else:
        rows = sorted(((c, k) for c, ks in by_context.items() for k in ks), key=lambda r: len(r[0]) + len(r[1]),
                      reverse=True)
        run_batched(rows, lambda r: (1, len(r[0]) + len(r[1]) - 1),
                    lambda batch: scores.update(_whole(lm, batch, stats)), policy, retry)
    stats.scoring_seconds += time.perf_counter() - start
    return scores


def _length(context: tuple[int, ...], continuations: list[tuple[int, ...]]) -> int:
    return len(context) + max(len(c) for c in continuations) - 1


def _shared(lm: CausalLM, prefix: tuple[int, ...], groups: list[Group],
            stats: EngineStats) -> dict[TokenRequest, TokenScore]:
    """Score a batch of groups whose contexts all start with `prefix` (forwarded once, then expanded)."""
    device = lm.device
    tokens, rest_mask = pad([context[len(prefix):] for context, _ in groups], left=True, device=device)  # (B, Ts)
    cache = lm.new_cache()
    mask = rest_mask  # (B, Tc) over the cache's columns
    if prefix:
        prefix_mask = torch.ones(1, len(prefix), dtype=torch.bool, device=device)
        lm.forward(torch.tensor([prefix], device=device), prefix_mask, positions(prefix_mask), cache, last_only=True)
        stats.count_forward(prefix_mask)
        stats.scored_positions += 1
        stats.prefix_tokens_reused += (len(groups) - 1) * len(prefix)
        cache.batch_select_indices(torch.zeros(len(groups), dtype=torch.long, device=device))
        mask = torch.cat([prefix_mask.expand(len(groups), -1), rest_mask], 1)
    last = lm.forward(tokens, mask, len(prefix) + positions(rest_mask), cache, last_only=True)  # (B, V)
    stats.count_forward(rest_mask)
    stats.scored_positions += len(groups)
    rows = [(g, cont) for g, (_, conts) in enumerate(groups) for cont in conts]
    stats.contexts_reused += len(rows) - len(groups)
    owner = torch.tensor([g for g, _ in rows], device=device)  # (R,)
    total, misses = _judge(last[owner], torch.tensor([cont[0] for _, cont in rows], device=device))  # (R,), (R,)
    owners = list(range(len(rows)))  # the request of each position judged: first tokens, then the rest

    long_rows = [i for i, (_, cont) in enumerate(rows) if len(cont) > 1]
    if long_rows:
        picked = owner[long_rows]  # (L,)
        cache.batch_select_indices(picked)
        inputs, cont_mask = pad([rows[i][1][:-1] for i in long_rows], left=False, device=device)  # (L, Tk)
        starts = mask.sum(1)[picked]  # (L,) each context's length: the continuation's first position
        steps = torch.arange(inputs.shape[1], device=device)
        at = torch.where(cont_mask, starts[:, None] + steps, 0)  # padding at 0: absolute embeddings end at the window
        logits = lm.forward(inputs, torch.cat([mask[picked], cont_mask], 1), at, cache)
        stats.count_forward(cont_mask)
        stats.scored_positions += cont_mask.numel()
        targets, _ = pad([rows[i][1][1:] for i in long_rows], left=False, device=device)  # (L, Tk)
        logprob, miss = _judge(logits[cont_mask], targets[cont_mask])  # (P,) over real positions, row by row
        total, misses = torch.cat([total, logprob]), torch.cat([misses, miss])
        owners += [i for i in long_rows for _ in rows[i][1][1:]]
    scores = request_scores(total, misses, owners, len(rows))
    return {TokenRequest(groups[g][0], cont): score for (g, cont), score in zip(rows, scores)}


def _whole(lm: CausalLM, rows: list[tuple[tuple[int, ...], tuple[int, ...]]],
           stats: EngineStats) -> dict[TokenRequest, TokenScore]:
    device = lm.device
    tokens, mask = pad([context + cont[:-1] for context, cont in rows], left=False, device=device)  # (B, T)
    logits = lm.forward(tokens, mask, positions(mask))  # (B, T, V)
    stats.count_forward(mask)
    stats.scored_positions += mask.numel()
    owners = [i for i, (_, cont) in enumerate(rows) for _ in cont]
    column = torch.tensor([len(context) - 1 + j for context, cont in rows for j in range(len(cont))], device=device)
    targets = torch.tensor([t for _, cont in rows for t in cont], device=device)
    logprob, miss = _judge(logits[torch.tensor(owners, device=device), column], targets)  # (P,)
    scores = request_scores(logprob, miss, owners, len(rows))
    return {TokenRequest(context, cont): score for (context, cont), score in zip(rows, scores)}


def _judge(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (P, V) fp32, targets (P,) -> log P(target) (P,) fp64 and 1 where target is not the argmax (P,)."""
    logprob = logits.log_softmax(-1).gather(1, targets[:, None])[:, 0].double()
    return logprob, (logits.argmax(-1) != targets).long()
