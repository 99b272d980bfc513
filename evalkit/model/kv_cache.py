"""A preallocated key/value cache for incremental decoding, with padding and forking.

Slots are filled left to right, the same number per row (`length`); `valid` marks which slots hold
real tokens, so rows of different lengths (padding anywhere) share one cache. `next_pos` is each
row's rotary position for its next real token, so padding never shifts positions. A cache may read
shared levels of slots before its own (`prefix`, model/shared_prefix.py): prompts forwarded after one
cached few-shot preamble read it without a copy each. Decoding rows keep their own slots in a RowCache
(model/row_cache.py).
"""
from __future__ import annotations

import torch

from evalkit.model.shared_prefix import SharedPrefix


class KVCache:
    def __init__(self, n_layers: int, batch: int, n_kv_heads: int, head_dim: int, capacity: int,
                 dtype: torch.dtype, device: torch.device | str):
        shape = (n_layers, batch, n_kv_heads, capacity, head_dim)
        # not zero-filled: a slot is read only after update() wrote it (reads stop at the filled length),
        # and filling a batch's cache costs a pass over gigabytes of device memory
        self.k = torch.empty(shape, dtype=dtype, device=device)  # (L, B, KV, S_max, hd)
        self.v = torch.empty(shape, dtype=dtype, device=device)  # (L, B, KV, S_max, hd)
        self.valid = torch.zeros(batch, capacity, dtype=torch.bool, device=device)  # (B, S_max)
        self.next_pos = torch.zeros(batch, dtype=torch.long, device=device)          # (B,)
        self.length = 0
        self.padded = False  # on the host: some filled slot may hold padding (then every chunk needs a mask)
        self.prefix: SharedPrefix | None = None  # shared slots every row reads before its own

    @property
    def batch(self) -> int:
        return self.k.shape[1]

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes + (self.prefix.nbytes if self.prefix is not None else 0)

    @property
    def reach(self) -> int:
        """Slots a new chunk's queries may read before it: the shared prefix's and this cache's."""
        return self.length + (self.prefix.length if self.prefix is not None else 0)

    @property
    def capacity(self) -> int:
        return self.k.shape[3]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write a chunk's k, v (B, KV, T, hd) after the filled slots; return all keys/values so far."""
        T = k.shape[2]
        end = self.length + T
        if end > self.capacity:
            raise ValueError(f"KV cache overflow: {end} slots needed, capacity {self.capacity}")
        self.k[layer, :, :, self.length:end] = k
        self.v[layer, :, :, self.length:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # (B, KV, S, hd)

    def advance(self, mask: torch.Tensor, dense: bool = False) -> None:
        """Commit a chunk of T slots after all layers wrote it; mask (B, T) marks real tokens, all of them
        where `dense` (known on the host, which then needs no read of the mask)."""
        T = mask.shape[1]
        self.padded = self.padded or not dense
        self.valid[:, self.length:self.length + T] = mask
        self.next_pos += mask.sum(dim=1)
        self.length += T

    def select(self, rows: torch.Tensor) -> "KVCache":
        """A new cache holding the given rows (any order, repeats allowed): fork with repeat_interleave."""
        new = KVCache.__new__(KVCache)
        new.k = self.k[:, rows]
        new.v = self.v[:, rows]
        new.valid = self.valid[rows]
        new.next_pos = self.next_pos[rows]
        new.length = self.length
        new.padded = self.padded
        new.prefix = self.prefix.select(rows) if self.prefix is not None else None
        return new

    @classmethod
    def over(cls, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor, next_pos: torch.Tensor,
             prefix: SharedPrefix | None = None) -> "KVCache":
        """An empty cache writing into given storage (views of a larger cache's rows, say): k, v (L, B, KV,
        S_max, hd), valid (B, S_max), next_pos (B,), all updated in place."""
        new = cls.__new__(cls)
        new.k, new.v, new.valid, new.next_pos, new.length, new.prefix = k, v, valid, next_pos, 0, prefix
        new.padded = False
        return new

    def fork(self, n: int) -> "KVCache":
        """Each row repeated n times in place (row i becomes rows i*n .. i*n+n-1): one prompt, n samples."""
        rows = torch.arange(self.batch, device=self.valid.device).repeat_interleave(n)
        return self.select(rows)
