"""Attention by query blocks, each reading only the window of keys it can see: a block-sparse mask.

A packed scoring row (engine/packing.py) holds many short prefix trees side by side, and a token reads
only its own tree's tokens (and a cached prefix). A dense mask over a row of T tokens still costs T x T
scores, nearly all of them masked: on the CPU, where the attention kernel cannot skip a masked block,
that was a third of a forward's work at T = 1024. Here the row's queries are cut into blocks of
`block` slots; a block reads the cached prefix, its own slots and the ancestors of its first slot
(key_windows), so a forward's attention costs T x (prefix + window) instead of T x (prefix + T). Every
block's keys are gathered into one batch of windows of equal length (masked past each block's own),
so a layer is one SDPA call, or a few: one call's gathered keys and values are capped at the bytes of the
layer's own (`k` and `v` as given, a cached prefix included). Windows overlap (each re-reads its
ancestors and the cached prefix: 2-7x the row's keys on Table 3 and MMLU rows), and without the cap that
transient copy would grow past the memory the batch budgets plan for. Same scores as the dense mask:
only the summation over masked keys (zeros) is gone.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class KeyWindows:
    """Which keys each block of `block` query slots reads, for B rows of T query slots."""
    block: int            # query slots per block (the last block of a row is padded)
    keys: torch.Tensor    # (B * nb, K) long: key slot (of its row's S keys) read by column k of window w
    mask: torch.Tensor    # (B * nb, 1, block, K) bool: query may read that column

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, enable_gqa: bool) -> torch.Tensor:
        """q (B, nh, T, hd), k and v (B, KV, S, hd) -> attention output (B, nh, T, hd)."""
        B, nh, T, hd = q.shape
        Q, K = self.block, self.mask.shape[-1]
        W = self.mask.shape[0]  # windows: B * nb
        nb = W // B
        q = F.pad(q, (0, 0, 0, nb * Q - T)).unflatten(2, (nb, Q)).transpose(1, 2).flatten(0, 1)  # (W, nh, Q, hd)
        row = torch.arange(B, device=q.device).repeat_interleave(nb)[:, None]  # (W, 1): each window's row
        per_call = max(1, B * k.shape[2] // K)  # windows of K keys in as many bytes as B rows of S keys
        out = torch.empty_like(q)
        for start in range(0, W, per_call):
            part = slice(start, start + per_call)
            kw = k[row[part], :, self.keys[part]].transpose(1, 2)  # (w, KV, K, hd)
            vw = v[row[part], :, self.keys[part]].transpose(1, 2)  # (w, KV, K, hd)
            out[part] = F.scaled_dot_product_attention(q[part], kw, vw, attn_mask=self.mask[part],
                                                       enable_gqa=enable_gqa)  # (w, nh, Q, hd)
        return out.unflatten(0, (B, nb)).transpose(1, 2).flatten(2, 3)[:, :, :T]


def key_windows(end: torch.Tensor, offset: int, block: int) -> KeyWindows:
    """Windows for rows laid out depth-first, whose slot i reads slot j when j <= i < end[j] (j is i or
    one of its ancestors), and reads every one of `offset` cached slots; end (B, T).

    A block reads its own slots and, before them, the ancestors of its first slot: a slot before the
    block whose subtree (contiguous in depth-first order) holds a later slot of the block holds the
    first one too. Those ancestors are few (the first slot's depth) however far back they lie, such
    as a trunk shared by a whole row. Windows are padded to the longest; padded columns are masked.
    """
    B, T = end.shape
    device = end.device
    nb = -(-T // block)
    slot = torch.arange(T, device=device)
    first = slot[::block]                                                           # (nb,)
    before = (slot[None, None, :] < first[None, :, None]) & (first[None, :, None] < end[:, None, :])  # (B, nb, T)
    A = int(before.sum(dim=2).max())
    earlier = torch.where(before, slot, T).sort(dim=2).values[:, :, :A]            # (B, nb, A), T: none
    local = (first[:, None] + torch.arange(block, device=device)).expand(B, nb, block)  # (B, nb, Q)
    column = torch.cat([earlier, local], dim=2)                                     # (B, nb, K) row slot or past it
    inside = column.clamp(max=T - 1)
    query = local[:1, :, :, None]                                                   # (1, nb, Q, 1)
    ends = end.gather(1, inside.flatten(1)).view(B, nb, 1, -1)
    own = (column[:, :, None, :] <= query) & (query < ends) & (column < T)[:, :, None, :]  # (B, nb, Q, K)
    own[:, :, :, -block:] |= torch.eye(block, dtype=torch.bool, device=device) & (query >= T)
    cached = torch.ones(B, nb, block, offset, dtype=torch.bool, device=device)
    keys = torch.cat([torch.arange(offset, device=device).expand(B, nb, offset), offset + inside], dim=2)
    mask = torch.cat([cached, own], dim=3).flatten(0, 1)[:, None]                   # (B*nb, 1, Q, offset+K)
    return KeyWindows(block, keys.flatten(0, 1), mask)
