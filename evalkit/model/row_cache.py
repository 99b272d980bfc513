"""The decoding rows' own KV slots, each row writing at its own place: rows leave and join a running batch.

A generation batch's rows read shared levels (a preamble, their prompt: model/shared_prefix.py) and then
their own tokens, which live here. Unlike KVCache, whose rows all fill the same slot at each step, a row
here fills its own next slot (`fill`), so a row that joins a running batch (continuous batching) starts
at slot 0, as it would in a batch of its own: the same slots, the same sums. A step forwards one token
per row; slots past a row's fill, or holding padding, are masked. The capacity is the largest budget
(`steps`); a finished row that has not been replaced yet writes its padding over its last slot.
"""
from __future__ import annotations

import numpy as np
import torch

from evalkit.model.shared_prefix import SharedPrefix


class RowCache:
    def __init__(self, n_layers: int, rows: int, n_kv_heads: int, head_dim: int, capacity: int,
                 dtype: torch.dtype, device: torch.device | str):
        shape = (n_layers, rows, n_kv_heads, capacity, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)  # (L, R, KV, C, hd); zeros: masked slots stay finite
        self.v = torch.zeros(shape, dtype=dtype, device=device)  # (L, R, KV, C, hd)
        self.valid = torch.zeros(rows, capacity, dtype=torch.bool, device=device)  # (R, C)
        self.next_pos = torch.zeros(rows, dtype=torch.long, device=device)        # (R,) rotary position
        self.fill = torch.zeros(rows, dtype=torch.long, device=device)            # (R,) each row's next slot
        self.fill_host = np.zeros(rows, dtype=np.int64)                           # the same, known to the host
        self.padded = True  # rows fill their own slots at their own pace: a step always needs its mask
        self.prefix = SharedPrefix([])
        self._mask: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        return self.k.shape[1]

    @property
    def capacity(self) -> int:
        return self.k.shape[3]

    @property
    def length(self) -> int:
        """Slots any row has filled (the model builds a mask from it, unused: see attend_mask)."""
        return int(self.fill_host.max()) if len(self.fill_host) else 0

    @property
    def reach(self) -> int:
        return self.capacity + self.prefix.length

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes + self.prefix.nbytes

    def start(self, rows: torch.Tensor, next_pos: torch.Tensor) -> None:
        """Rows `rows` begin again, empty, their next token at rotary positions next_pos (len(rows),)."""
        self.valid[rows] = False
        self.fill[rows] = 0
        self.next_pos[rows] = next_pos
        self.fill_host[rows.cpu().numpy()] = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write one token's k, v (R, KV, 1, hd) at each row's own slot; return the slots any row reads."""
        if k.shape[2] != 1:
            raise ValueError("a row cache takes one token per row and step")
        rows = torch.arange(self.batch, device=k.device)
        at = self.fill.clamp(max=self.capacity - 1)
        self.k[layer, rows, :, at] = k[:, :, 0]
        self.v[layer, rows, :, at] = v[:, :, 0]
        S = min(self.length + 1, self.capacity)
        if layer == 0:  # each row reads its filled slots and its new one: the model's mask assumes one slot for all
            seen = self.valid[:, :S] | (torch.arange(S, device=k.device) == at[:, None])  # (R, S)
            self.prefix.own_mask = seen[:, None, None, :]
        return self.k[layer, :, :, :S], self.v[layer, :, :, :S]  # (R, KV, S, hd)

    def advance(self, mask: torch.Tensor, dense: bool = False) -> None:
        """Commit the step's token after all layers wrote it; mask (R, 1) marks real tokens (`dense`, the
        model's note that all are, changes nothing: rows fill their own slots, so every step is masked)."""
        rows = torch.arange(self.batch, device=mask.device)
        at = self.fill.clamp(max=self.capacity - 1)
        self.valid[rows, at] = mask[:, 0]
        self.next_pos += mask[:, 0].long()
        self.fill = (self.fill + 1).clamp(max=self.capacity)
        self.fill_host = np.minimum(self.fill_host + 1, self.capacity)
        self.prefix.own_mask = None

    def compact(self, keep: torch.Tensor) -> None:
        """Keep only rows `keep` (ascending), in place and layer by layer: no second copy of the cache
        is ever alive, only one layer's rows in transit (dropping finished rows must not need memory)."""
        m = len(keep)
        for layer in range(self.k.shape[0]):
            self.k[layer, :m] = self.k[layer, keep]
            self.v[layer, :m] = self.v[layer, keep]
        self.k, self.v = self.k[:, :m], self.v[:, :m]
        self.valid, self.next_pos, self.fill = self.valid[keep], self.next_pos[keep], self.fill[keep]
        self.fill_host = self.fill_host[keep.cpu().numpy()]
        self.prefix = self.prefix.select(keep)
