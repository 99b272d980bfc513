"""Scoring continuations on token ids: prefix trees packed into long rows, few and large forwards.

The requests of a context (its continuations minus their last token, after the context) form a prefix
tree (prefix_tree.py): the context is forwarded once for all its continuations. Trees are packed into
rows of about ROW_TOKENS (packing.py), several rows per forward; in a row a token reads only its
ancestors (a tree mask) at its depth as position, so nothing but the arithmetic's order changes.
Contexts sharing a long token prefix (a few-shot preamble) form a family (prefixes.py). A family larger
than a row forwards its prefix once into a KV cache and its rows come after it; a smaller one (a passage
asked two questions) is packed whole into a row, where its tree shares the prefix at no extra forward.
Only the gathered positions go through the output layer, each once, so (B, T, vocab) logits never exist.

Deterministic mode (share_prefixes=False): each request is a row and a forward of its own (context +
continuation[:-1], plain causal), so a result never depends on which requests came with it (bit-identical
across batches, chunks and ranks on one kind of device and software stack: on a GPU the per-request sum
avoids atomics, see request_scores), at the price of forwarding a context once per continuation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from evalkit.engine.batching import BatchPolicy, run_batched
from evalkit.engine.encoding import TokenRequest
from evalkit.engine.packing import ROW_TOKENS, layout, pack
from evalkit.engine.prefix_tree import PrefixTree, prefix_tree
from evalkit.engine.prefixes import families
from evalkit.engine.stats import EngineStats
from evalkit.model.kv_cache import KVCache
from evalkit.model.llama import Transformer

LOGIT_CHUNK = 1024  # positions per output-layer call: bounds the (P, vocab) logits in memory
CPU_LOGIT_CHUNK = 256  # on the CPU: (256, 32000) bf16 logits still fit the cache the matmul writes through
SOFTMAX_ROWS = 32  # rows of logits normalized at a time on the CPU: (32, 32000) fp32 is 4 MB, in cache


@dataclass(frozen=True)
class TokenScore:
    loglikelihood: float
    is_greedy: bool


@dataclass
class _Row:
    """Requests forwarded together as one prefix tree (sequence k is requests[k]'s, after the family prefix)."""
    requests: list[TokenRequest]
    contexts: int  # distinct contexts: what a batch size counts
    tree: PrefixTree


def score(model: Transformer, requests: list[TokenRequest], policy: BatchPolicy, stats: EngineStats,
          share_prefixes: bool = True) -> dict[TokenRequest, TokenScore]:
    """Score every distinct request; duplicates and shared contexts are computed once."""
    start = time.perf_counter()
    scores = {r: TokenScore(0.0, True) for r in requests if not r.continuation}  # nothing to predict
    todo = [r for r in dict.fromkeys(requests) if r.continuation]
    stats.requests_computed += len(todo)
    if share_prefixes:
        by_context: dict[tuple[int, ...], list[TokenRequest]] = {}
        for r in todo:
            by_context.setdefault(r.context, []).append(r)
        stats.contexts_reused += len(todo) - len(by_context)
        found, capacity = families(list(by_context.values()), lambda g: g[0].context), ROW_TOKENS
    else:
        found, capacity = [((), [[r] for r in todo])], 0
    plans, loose = [], []  # loose: (shared tokens, groups) packed as one item each, with no cached prefix
    for prefix, groups in found:
        if not prefix:
            loose += [(0, [g]) for g in groups]
        elif _tree_size(len(prefix), groups) <= capacity:  # a row's worth: its tree shares the prefix, no extra forward
            loose.append((len(prefix), groups))
            stats.prefix_tokens_reused += (len(groups) - 1) * len(prefix)
        else:
            plans.append((prefix, _rows(len(prefix), [(len(prefix), [g]) for g in groups], capacity)))
    if loose:
        plans.append(((), _rows(0, loose, capacity)))

    def retry() -> None:
        stats.oom_retries += 1

    for prefix, rows in sorted(plans, key=lambda plan: -len(plan[1][0].tree)):  # the longest row first
        cache = _forward_prefix(model, prefix, len(rows[0].tree), sum(row.contexts for row in rows), stats)
        # a packed row counts its contexts against a batch size, and once (its tokens) against a token budget
        run_batched(rows, lambda row: (row.contexts, len(row.tree), 1),
                    lambda batch: scores.update(_score_rows(model, len(prefix), cache, batch, stats)), policy, retry)
    stats.scoring_seconds += time.perf_counter() - start
    return scores


def _tree_size(shared: int, groups: list[list[TokenRequest]]) -> int:
    """Tokens in the prefix tree of groups (one context's requests each) whose contexts share `shared`
    tokens: an upper bound, as continuations and longer context prefixes may be shared too."""
    return shared + sum(len(g[0].context) - shared + sum(len(r.continuation) - 1 for r in g) for g in groups)


def _rows(p: int, items: list[tuple[int, list[list[TokenRequest]]]], capacity: int) -> list[_Row]:
    """Items (shared tokens, groups) packed whole into rows after a cached prefix of p tokens, longest row first."""
    rows = []
    for members in pack([_tree_size(shared, groups) - p for shared, groups in items], capacity):
        requests = [r for i in members for g in items[i][1] for r in g]
        tree = prefix_tree([r.context[p:] + r.continuation[:-1] for r in requests])
        rows.append(_Row(requests, sum(len(items[i][1]) for i in members), tree))
    return sorted(rows, key=lambda row: -len(row.tree))  # shared prefixes may have shortened some


def _forward_prefix(model: Transformer, prefix: tuple[int, ...], longest_row: int, contexts: int,
                    stats: EngineStats) -> KVCache | None:
    """A family's shared prefix forwarded once into a one-row cache with room for its longest row."""
    if not prefix:
        return None
    cache = model.new_cache(1, len(prefix) + longest_row)
    model.hidden_states(torch.tensor([prefix], device=model.device), None, cache)
    stats.count_step(len(prefix), len(prefix))
    stats.prefix_tokens_reused += (contexts - 1) * len(prefix)
    return cache


def _score_rows(model: Transformer, p: int, prefix_cache: KVCache | None, rows: list[_Row],
                stats: EngineStats) -> dict[TokenRequest, TokenScore]:
    """One forward of rows (after a cached prefix of p tokens, forked per row) -> each request's score."""
    device = model.device
    packed = layout([row.tree for row in rows], p, device)
    cache = None if prefix_cache is None else \
        prefix_cache.select(torch.zeros(len(rows), dtype=torch.long, device=device))  # the prefix, once per row
    hidden = model.hidden_states_at(packed.tokens, packed.positions, packed.attn_mask, cache,
                                    packed.real)  # (B, T, dim)
    stats.count_forward(packed.real)

    T = packed.tokens.shape[1]
    nodes, targets, owners, requests = [], [], [], []
    for b, row in enumerate(rows):
        for r, path in zip(row.requests, row.tree.paths):
            first = len(r.context) - p - 1  # the context's last node predicts the continuation's first token
            nodes.extend(b * T + node for node in path[first:])
            targets.extend(r.continuation)
            owners.extend([len(requests)] * len(r.continuation))
            requests.append(r)
    logprobs, greedy = _logprobs(model, hidden.flatten(0, 1), torch.tensor(nodes, device=device),
                                 torch.tensor(targets, device=device), stats)
    return dict(zip(requests, request_scores(logprobs.double(), (~greedy).long(), owners, len(requests))))


def request_scores(logprobs: torch.Tensor, misses: torch.Tensor, owners: list[int], n: int) -> list[TokenScore]:
    """logprobs (P,) fp64 and misses (P,) long (1: the target was not the argmax), position p belonging to
    request owners[p] < n -> each request's summed log-likelihood and whether it had no miss, read back
    from the device in one transfer for the whole batch.

    On the CPU the sums run in position order. On a GPU, index_add_ adds with atomics, in an order that
    varies from run to run; there each request's positions are laid out in a row of their own and the
    row is summed, in the same order every run (deterministic mode's results are then bit-identical
    run to run on one GPU model and software stack, as on the CPU)."""
    device = logprobs.device
    owner = torch.tensor(owners, dtype=torch.long, device=device)
    missed = torch.zeros(n, dtype=torch.long, device=device).index_add_(0, owner, misses)  # integers: exact
    if device.type == "cpu":
        total = torch.zeros(n, dtype=torch.float64).index_add_(0, owner, logprobs)
    else:
        total = row_sums(logprobs, owners, n)
    totals, clean = torch.stack([total, (missed == 0).double()]).cpu().tolist()  # (2, n): the one read-back
    return [TokenScore(t, c == 1.0) for t, c in zip(totals, clean)]


def row_sums(values: torch.Tensor, owners: list[int], n: int) -> torch.Tensor:
    """values (P,), position p belonging to owners[p] < n -> (n,) sums, without atomics: each owner's values
    in a row of their own (in position order, zero-padded), each row reduced by the same kernel every run."""
    seen, offsets = [0] * n, []
    for o in owners:
        offsets.append(seen[o])
        seen[o] += 1
    grid = values.new_zeros(n, max(seen, default=0))  # (n, most positions of one owner)
    index = torch.tensor([owners, offsets], dtype=torch.long, device=values.device)  # (2, P)
    grid.index_put_((index[0], index[1]), values)
    return grid.sum(1)


def _logprobs(model: Transformer, hidden: torch.Tensor, nodes: torch.Tensor, targets: torch.Tensor,
              stats: EngineStats) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (N, dim), nodes (P,) into it, targets (P,) -> log P(target) (P,) fp32 and whether target is
    the argmax (P,). A node predicting several targets (a context's last token) goes through the output
    layer once. On the CPU the output layer runs on a few hundred rows at a time and the log-softmax on
    slices of a few rows, so that logits stay in cache: over a whole chunk of 1024, converting,
    normalizing and scanning (rows, vocab) fp32 in memory cost as much as the matmul."""
    unique, inverse = torch.unique(nodes, return_inverse=True)  # (U,), (P,)
    stats.scored_positions += len(unique)
    order = inverse.argsort()  # targets grouped by the row they read
    cpu = nodes.device.type == "cpu"
    chunk, slice_rows = (CPU_LOGIT_CHUNK, SOFTMAX_ROWS) if cpu else (LOGIT_CHUNK, LOGIT_CHUNK)
    bounds = torch.searchsorted(inverse[order], torch.arange(0, len(unique) + slice_rows, slice_rows,
                                                             device=nodes.device)).tolist()
    logprobs = torch.empty(len(nodes), dtype=torch.float32, device=nodes.device)
    greedy = torch.empty(len(nodes), dtype=torch.bool, device=nodes.device)
    for s in range(0, len(unique), chunk):
        logits = model.output(hidden[unique[s:s + chunk]])  # (u, vocab) in the model dtype: fp32 by slices
        for r in range(s, min(s + chunk, len(unique)), slice_rows):
            picked = order[bounds[r // slice_rows]:bounds[r // slice_rows + 1]]  # targets read from these rows
            rows = logits[r - s:r - s + slice_rows].float()  # (slice, vocab) fp32
            local, t = inverse[picked] - r, targets[picked]
            logprobs[picked] = rows.log_softmax(-1)[local, t]
            # argmax is 10x slower than amax here: only a target reaching its row's maximum needs it (a
            # tie goes to the first maximal index, and ties are common among bf16 logits)
            reach = (rows[local, t] == rows.amax(-1)[local]).nonzero()[:, 0]
            greedy[picked] = False
            greedy[picked[reach]] = rows[local[reach]].argmax(-1) == t[reach]
    return logprobs, greedy
