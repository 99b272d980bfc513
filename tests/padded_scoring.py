"""Reference: the engine's previous scoring scheme (padded batches, forked KV caches), for tests and
benchmarks/packed_scoring.py only; the product scores with packed rows (evalkit/engine/scoring.py).

A family's prefix is forwarded once per batch; each batch of contexts forks it and forwards the rest
of every context right-padded; then the cache is forked per continuation and the continuations minus
their last token are forwarded as right-padded chunks after it.
"""
from __future__ import annotations

import torch

from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.encoding import TokenRequest
from evalkit.engine.prefixes import families
from evalkit.engine.scoring import TokenScore
from evalkit.engine.stats import EngineStats
from evalkit.model.llama import Transformer


@torch.inference_mode()
def padded_score(model: Transformer, requests: list[TokenRequest], policy: BatchPolicy,
                 stats: EngineStats) -> dict[TokenRequest, TokenScore]:
    groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for r in dict.fromkeys(requests):
        groups.setdefault(r.context, []).append(r.continuation)
    scores: dict[TokenRequest, TokenScore] = {}

    def length(prefix_len: int, item) -> int:  # KV slots a row needs after the prefix
        return len(item[0]) - prefix_len + max(len(c) for c in item[1]) - 1

    found = families(list(groups.items()), lambda g: g[0])
    for prefix, members in sorted(found, key=lambda f: -max(length(0, g) for g in f[1])):
        members.sort(key=lambda g: length(0, g), reverse=True)
        run_batched(members, lambda g: (1, length(len(prefix), g)),
                    lambda batch: scores.update(_batch(model, prefix, batch, policy, stats)), policy, lambda: None)
    return scores


def _batch(model, prefix, groups, policy, stats) -> dict[TokenRequest, TokenScore]:
    suffixes, suffix_mask = pad([c[len(prefix):] for c, _ in groups], left=False, device=model.device)  # (B, Ts)
    rows = [(g, cont) for g, (_, conts) in enumerate(groups) for cont in conts]
    chunk_len = max(len(cont) for _, cont in rows) - 1
    capacity = len(prefix) + suffixes.shape[1] + chunk_len
    if prefix:
        shared = model.new_cache(1, capacity)
        model.hidden_states(torch.tensor([prefix]), None, shared)
        stats.count_step(len(prefix), len(prefix))
        cache = shared.select(torch.zeros(len(groups), dtype=torch.long))
    else:
        cache = model.new_cache(len(groups), capacity)
    hidden_suffix = model.hidden_states(suffixes, suffix_mask, cache)  # (B, Ts, dim)
    stats.count_forward(suffix_mask)
    last = hidden_suffix[torch.arange(len(groups)), suffix_mask.sum(dim=1) - 1]  # (B, dim)
    hidden, targets, owners = [last[[g for g, _ in rows]]], [cont[0] for _, cont in rows], list(range(len(rows)))
    long_rows = [i for i, (_, cont) in enumerate(rows) if len(cont) > 1]
    slots = [(1, capacity - chunk_len + len(rows[i][1]) - 1) for i in long_rows]
    start = 0
    while start < len(long_rows):
        chunk = long_rows[start:start + policy.take(slots, start)]
        start += len(chunk)
        forked = cache.select(torch.tensor([rows[i][0] for i in chunk]))
        inputs, chunk_mask = pad([rows[i][1][:-1] for i in chunk], left=False, device=model.device)  # (r, Tk)
        hidden.append(model.hidden_states(inputs, chunk_mask, forked)[chunk_mask])
        stats.count_forward(chunk_mask)
        for i in chunk:
            targets.extend(rows[i][1][1:])
            owners.extend([i] * (len(rows[i][1]) - 1))
    logits = model.logits(torch.cat(hidden))  # (P, vocab)
    target = torch.tensor(targets)
    logprobs = logits.log_softmax(-1).gather(1, target[:, None])[:, 0].double()
    misses = (logits.argmax(-1) != target).long()
    owner = torch.tensor(owners)
    total = torch.zeros(len(rows), dtype=torch.float64).index_add_(0, owner, logprobs)
    missed = torch.zeros(len(rows), dtype=torch.long).index_add_(0, owner, misses)
    return {TokenRequest(groups[g][0], cont): TokenScore(float(total[i]), bool(missed[i] == 0))
            for i, (g, cont) in enumerate(rows)}
