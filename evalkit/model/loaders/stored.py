"""Tensors located in checkpoint files, read slice by slice with plain positioned reads.

Tensor parallelism wants each rank to read only its part of every weight. A memory map would do for
rows, but a column slice touches every page of the tensor and the pages stay resident while mapped, so
here a tensor is a (file, byte offset, dtype, shape) record and a slice is read with `readinto`, in blocks
of whole rows of at most BUFFER_BYTES, each block copied straight into the destination (the model's dtype,
device and layout). Memory then holds the slice and one block, never the rest of the file nor a second
copy of the slice.

Where tensors are found: in torch's zip checkpoints (Meta's consolidated.NN.pth, pytorch_model*.bin)
torch.load with map_location="meta" reads only the pickle and records each storage's offset in the file;
in safetensors files the header (8-byte length, then JSON of dtype, shape and data_offsets) says it.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from evalkit.errors import CheckpointError
from evalkit.model.tensor_parallel import Slice

BUFFER_BYTES = 4 << 20  # whole rows read at once: a few MB, for any model size
SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


_BLOCK: list[torch.Tensor] = []  # one read buffer for the process: blocks never churn the allocator


def _block(size: int) -> torch.Tensor:
    if not _BLOCK or _BLOCK[0].numel() < size:
        _BLOCK[:] = [torch.empty(max(size, BUFFER_BYTES), dtype=torch.uint8)]
    return _BLOCK[0][:size]


class Stored(Protocol):
    shape: tuple[int, ...]
    dtype: torch.dtype  # as stored

    def read_into(self, part: Slice | None, dest: torch.Tensor) -> None:
        """Copy the slice (None: the whole tensor) into dest: any dtype, device and strides, of the slice's shape."""


def read(stored: Stored, part: Slice | None) -> torch.Tensor:
    """The slice as a new CPU tensor of the stored dtype."""
    shape = list(stored.shape)
    if part is not None:
        shape[part.dim] = part.stop - part.start
    dest = torch.empty(shape, dtype=stored.dtype)
    stored.read_into(part, dest)
    return dest


@dataclass(frozen=True)
class FileTensor:
    """A row-major tensor stored contiguously at `offset` bytes into `path`."""
    path: Path
    offset: int
    dtype: torch.dtype
    shape: tuple[int, ...]

    def read_into(self, part: Slice | None, dest: torch.Tensor) -> None:
        """Rows read in blocks of at most BUFFER_BYTES (a row slice reads only its rows, a column slice whole
        rows), each block copied into dest before the next is read."""
        rows = self.shape[0] if self.shape else 1
        width = math.prod(self.shape[1:])  # elements per row
        row_bytes = width * torch.empty((), dtype=self.dtype).element_size()
        if part is not None and (part.dim > 1 or (part.dim == 1 and len(self.shape) != 2)):
            raise ValueError(f"row or column slices of 2-D tensors only, not dim {part.dim} of {self.shape}")
        first, last = (part.start, part.stop) if part is not None and part.dim == 0 else (0, rows)
        columns = slice(part.start, part.stop) if part is not None and part.dim == 1 else slice(None)
        block = max(1, BUFFER_BYTES // max(row_bytes, 1))
        flat = dest.view(-1) if not self.shape else dest  # a 0-d or 1-d tensor is one row
        with open(self.path, "rb", buffering=0) as handle:
            for row in range(first, last, block):
                n = min(block, last - row)
                chunk = self._read(handle, self.offset + row * row_bytes, n * row_bytes).view(self.dtype)
                if len(self.shape) <= 1:
                    flat.copy_(chunk)
                else:
                    dest[row - first:row - first + n] = chunk.view(n, *self.shape[1:])[:, columns]

    def _read(self, handle, offset: int, size: int) -> torch.Tensor:
        """size bytes at offset -> uint8 tensor (size,) in the shared block buffer (valid until the next read),
        read in as many calls as the kernel needs."""
        buffer = _block(size)
        view, done = memoryview(buffer.numpy()), 0
        handle.seek(offset)
        while done < size:
            got = handle.readinto(view[done:])
            if not got:
                raise CheckpointError(f"{self.path}: truncated ({offset + done} bytes, a tensor needs "
                                      f"{offset + size})")
            done += got
        return buffer


@dataclass(frozen=True)
class MemoryTensor:
    """A tensor already in memory (the embedded `tiny` model, pre-zip torch checkpoints)."""
    tensor: torch.Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.tensor.dtype

    def read_into(self, part: Slice | None, dest: torch.Tensor) -> None:
        dest.copy_(self.tensor if part is None else self.tensor.narrow(part.dim, part.start, part.stop - part.start))


@dataclass(frozen=True)
class ConcatTensor:
    """One tensor stored as consecutive parts along `dim` (Meta's model-parallel shards)."""
    parts: tuple[Stored, ...]
    dim: int

    @property
    def shape(self) -> tuple[int, ...]:
        shape = list(self.parts[0].shape)
        shape[self.dim] = sum(p.shape[self.dim] for p in self.parts)
        return tuple(shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.parts[0].dtype

    def read_into(self, part: Slice | None, dest: torch.Tensor) -> None:
        """Only the parts overlapping the slice are read, each into its place in dest."""
        start, stop = (0, self.shape[self.dim]) if part is None else (part.start, part.stop)
        if part is not None and part.dim != self.dim:
            raise ValueError(f"a slice along dim {part.dim} of parts split along dim {self.dim}")
        first = 0
        for p in self.parts:
            last = first + p.shape[self.dim]
            lo, hi = max(start, first), min(stop, last)
            if lo < hi:
                p.read_into(Slice(self.dim, lo - first, hi - first, hi - lo), dest.narrow(self.dim, lo - start, hi - lo))
            first = last


def load_shard(path: Path) -> dict[str, torch.Tensor]:
    """A whole torch.save file, memory-mapped where its format allows."""
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except RuntimeError as error:
        if "zipfile" in str(error) or "mmap" in str(error):  # pre-1.6 format cannot be mmapped
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception as retry:  # noqa: BLE001 - any unpickling failure means a bad file
                error = retry
        raise CheckpointError(f"{path}: unreadable ({str(error).splitlines()[0]})") from None
    except Exception as error:  # noqa: BLE001 - truncated zip, bad pickle, ...
        raise CheckpointError(f"{path}: unreadable ({type(error).__name__}: {str(error).splitlines()[0]})") from None


def index_torch_file(path: Path) -> dict[str, Stored]:
    """Every tensor of a torch.save zip file, located without reading its data."""
    try:
        tensors = torch.load(path, map_location="meta", weights_only=True)
    except Exception:  # noqa: BLE001 - pre-1.6 (non-zip) files, truncated zips, bad pickles
        return {name: MemoryTensor(t) for name, t in load_shard(path).items()}  # what torch.load can, or why not
    index: dict[str, Stored] = {}
    for name, t in tensors.items():
        offset = getattr(t.untyped_storage(), "_checkpoint_offset", None)
        if offset is None or not t.is_contiguous():
            raise CheckpointError(f"{path}: tensor {name} cannot be located for slice reads "
                                  f"(torch {torch.__version__})")
        index[name] = FileTensor(path, offset + t.storage_offset() * t.element_size(), t.dtype, tuple(t.shape))
    return index


def index_safetensors(path: Path) -> dict[str, Stored]:
    """Every tensor of a .safetensors file, from its header."""
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        start = 8 + length
        return {name: FileTensor(path, start + info["data_offsets"][0], SAFETENSORS_DTYPES[info["dtype"]],
                                 tuple(info["shape"]))
                for name, info in header.items() if name != "__metadata__"}
    except (OSError, struct.error, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: unreadable safetensors header ({type(error).__name__}: {error})") from None
