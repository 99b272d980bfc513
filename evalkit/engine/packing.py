"""Packing prefix trees into rows of about equal length, and one forward's tensors for a batch of rows.

A row holds several prefix trees side by side (each one context with its continuations); a token reads
only its ancestors in its own tree (and a cached family prefix, if any), at its depth as position, so
packing changes no result. Rows are few and long, and about equally long, so padding is rare.

Row length: a dense masked attention over a row of T tokens costs about T / (6 dim) of a token's
matrix work per layer (a causal one half of that). A row of many short trees therefore attends by key
windows (model/key_windows.py): blocks of QUERY_BLOCK queries, each reading only its own slots and its
first slot's ancestors, about a fifth of the dense mask's pairs on Table 3's rows. Rows are long enough
to hold many trees and make forwards few (benchmarks/packed_scoring.py measures both).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import torch

from evalkit.engine.prefix_tree import PrefixTree
from evalkit.model.key_windows import KeyWindows, key_windows

ROW_TOKENS = 1024  # target tokens per row (a tree longer than this gets a row of its own)
QUERY_BLOCK = 64  # query slots per attention block when a row's trees are short (model/key_windows.py)
WINDOWS_WORTH = 0.75  # block-sparse attention when it scores at most this share of the dense mask's pairs


def pack(sizes: list[int], capacity: int) -> list[list[int]]:
    """Indices of items grouped into rows, longest row first; capacity 0 puts every item alone.

    Items of at least `capacity` tokens get a row each; the rest are dealt, largest first, to the least
    filled of ceil(total / capacity) rows (LPT), so rows end up within about one small item of each other.
    """
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    if capacity <= 0:
        return [[i] for i in order]
    rows = [[i] for i in order if sizes[i] >= capacity]
    small = [i for i in order if sizes[i] < capacity]
    if small:
        n = math.ceil(sum(sizes[i] for i in small) / capacity)
        heap = [(0, r) for r in range(n)]  # (tokens so far, row)
        dealt: list[list[int]] = [[] for _ in range(n)]
        for i in small:
            load, r = heapq.heappop(heap)
            dealt[r].append(i)
            heapq.heappush(heap, (load + sizes[i], r))
        rows += sorted((row for row in dealt if row), key=lambda row: -sum(sizes[i] for i in row))
    return rows


@dataclass
class PackedRows:
    """One forward's inputs: B rows of T slots, each row one prefix tree, after `offset` cached slots."""
    tokens: torch.Tensor            # (B, T) long, 0 in padding
    positions: torch.Tensor         # (B, T) long: offset + depth
    real: torch.Tensor              # (B, T) bool: slot holds a token
    attn_mask: torch.Tensor | KeyWindows | None  # (B, 1, T, offset + T) bool, the same block-sparse, or None
                                                 # where plain causal is the same


def layout(trees: list[PrefixTree], offset: int, device: torch.device) -> PackedRows:
    """Right-pad the trees' nodes into rows; a padding slot reads only itself (its output is never read)."""
    B, T = len(trees), max(len(t) for t in trees)
    tokens = torch.zeros(B, T, dtype=torch.long)
    depth = torch.zeros(B, T, dtype=torch.long)
    end = torch.arange(1, T + 1).repeat(B, 1)  # (B, T): padding slot j ends at j + 1
    for b, tree in enumerate(trees):
        n = len(tree)
        tokens[b, :n] = torch.tensor(tree.tokens)
        depth[b, :n] = torch.tensor(tree.depth)
        end[b, :n] = torch.tensor(tree.end)
    real = torch.arange(T)[None, :] < torch.tensor([len(t) for t in trees])[:, None]  # (B, T)
    tokens, depth, end, real = (x.to(device) for x in (tokens, depth, end, real))
    if offset == 0 and bool(real.all()) and bool((end == T).all()):
        return PackedRows(tokens, depth, real, None)  # every row is one sequence filling it: plain causal
    windows = key_windows(end, offset, QUERY_BLOCK)
    if windows.mask.numel() <= WINDOWS_WORTH * B * T * (offset + T):  # query-key pairs scored, either way
        return PackedRows(tokens, depth + offset, real, windows)
    # query i reads key j when j is i or an ancestor of i: j <= i < end[j]
    slot = torch.arange(T, device=device)
    own = (slot[None, None, :] <= slot[None, :, None]) & (slot[None, :, None] < end[:, None, :])  # (B, T, T)
    cached = torch.ones(B, T, offset, dtype=torch.bool, device=device)  # the family prefix: every query
    return PackedRows(tokens, depth + offset, real, torch.cat([cached, own], dim=2)[:, None])  # (B, 1, T, offset+T)
