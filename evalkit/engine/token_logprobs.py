"""Per-token log-probabilities of whole token sequences: what `serve` answers to echo + logprobs.

scoring.py sums a continuation's log-probabilities; a server echoing a prompt must return each token's
own value and the top alternatives at every position. Sequences sharing a long token prefix (the four
endings of a HellaSwag question, a few-shot preamble) form a family (prefixes.py): the prefix is
forwarded once, its KV cache forked to every member, and each member forwards only its own suffix.
The last token of a sequence is never forwarded (nothing after it is predicted).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from evalkit.engine.batching import BatchPolicy, pad, run_batched
from evalkit.engine.prefixes import families
from evalkit.engine.scoring import LOGIT_CHUNK
from evalkit.engine.stats import EngineStats
from evalkit.model.llama import Transformer


@dataclass(frozen=True)
class TokenLogprobs:
    """For tokens 1..T-1 of a sequence of T: log P(token | tokens before) and the top-k (id, log P)."""
    logprobs: tuple[float, ...]                        # (T-1,)
    top: tuple[tuple[tuple[int, float], ...], ...]     # (T-1, k), best first


@torch.inference_mode()
def token_logprobs(model: Transformer, sequences: list[tuple[int, ...]], top_k: int, policy: BatchPolicy,
                   stats: EngineStats) -> list[TokenLogprobs]:
    """TokenLogprobs of every sequence (each at least one token), in order; duplicates computed once."""
    out: dict[tuple[int, ...], TokenLogprobs] = {s: TokenLogprobs((), ()) for s in sequences if len(s) < 2}
    todo = [s for s in dict.fromkeys(sequences) if len(s) >= 2]
    stats.requests_computed += len(todo)

    def retry() -> None:
        stats.oom_retries += 1

    for prefix, members in families(todo, lambda s: s[:-1]):  # the forwarded part decides sharing
        members.sort(key=len, reverse=True)
        run_batched(members, lambda s: (1, len(s) - len(prefix)),
                    lambda batch: out.update(_family_batch(model, prefix, batch, top_k, stats)), policy, retry)
    return [out[s] for s in sequences]


def _family_batch(model: Transformer, prefix: tuple[int, ...], members: list[tuple[int, ...]], top_k: int,
                  stats: EngineStats) -> dict[tuple[int, ...], TokenLogprobs]:
    """Members all start with `prefix` and are at least two tokens longer (families() leaves each member
    a suffix to forward): forward the prefix once, then every suffix minus its last token after a fork
    of the prefix's cache. Prefix positions 0..p-2 predict the same tokens for every member and are
    scored once; position p-1 predicts each member's own token p."""
    device = model.device
    p = len(prefix)
    suffixes, mask = pad([m[p:-1] for m in members], left=False, device=device)  # (B, Ts)
    hidden, targets = [], []  # rows of hidden states and the token each predicts: shared rows, then members'
    if prefix:
        shared = model.new_cache(1, p + suffixes.shape[1])
        prefix_hidden = model.hidden_states(torch.tensor([prefix], device=device), None, shared)[0]  # (p, dim)
        stats.count_forward(torch.ones(1, p, dtype=torch.bool))
        stats.prefix_tokens_reused += (len(members) - 1) * p
        cache = shared.select(torch.zeros(len(members), dtype=torch.long, device=device))
        hidden.append(prefix_hidden[:-1])
        targets.extend(prefix[1:])
        hidden.append(prefix_hidden[-1:].expand(len(members), -1))  # (B, dim)
        targets.extend(m[p] for m in members)
    else:
        cache = model.new_cache(len(members), suffixes.shape[1])
    hidden.append(model.hidden_states(suffixes, mask, cache)[mask])  # (sum of suffix lengths, dim), member order
    stats.count_forward(mask)
    for m in members:
        targets.extend(m[p + 1:])

    logprobs, top_ids, top_values = _score_positions(model, torch.cat(hidden), torch.tensor(targets, device=device),
                                                     top_k)
    values, tops = logprobs.tolist(), [tuple(zip(i, v)) for i, v in zip(top_ids.tolist(), top_values.tolist())]
    shared_end = max(p - 1, 0)
    out, start = {}, shared_end + (len(members) if prefix else 0)
    for j, m in enumerate(members):
        own = list(range(start, start + len(m) - p - 1))
        start += len(own)
        rows = list(range(shared_end)) + ([shared_end + j] if prefix else []) + own
        out[m] = TokenLogprobs(tuple(values[i] for i in rows), tuple(tops[i] for i in rows))
    return out


def _score_positions(model: Transformer, hidden: torch.Tensor, targets: torch.Tensor,
                     top_k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """hidden (P, dim), targets (P,) -> log P(target) (P,), top-k ids (P, k) and their log P (P, k)."""
    logprobs, ids, values = [], [], []
    for s in range(0, hidden.shape[0], LOGIT_CHUNK):
        logp = model.logits(hidden[s:s + LOGIT_CHUNK]).log_softmax(-1)  # (p, vocab) fp32
        logprobs.append(logp.gather(1, targets[s:s + LOGIT_CHUNK, None])[:, 0])
        best = logp.topk(top_k, dim=-1)  # k = 0 gives empty (p, 0) tensors
        ids.append(best.indices)
        values.append(best.values)
    return torch.cat(logprobs), torch.cat(ids), torch.cat(values)
