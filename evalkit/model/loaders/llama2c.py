"""llama2.c legacy (version 0) `.bin` exports, e.g. stories260K, read memory-mapped.

Layout (little-endian, no magic): 7 int32 header fields, then contiguous fp32 tensors in a fixed
order; a negative vocab_size means an untied classifier `wcls` follows at the end. See
karpathy/llama2.c `export.py` (legacy_export) and `run.c`.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.loaders.stored import FileTensor, Stored

HEADER = struct.Struct("<7i")


def read_config(path: Path) -> tuple[ModelConfig, bool]:
    """-> (config, shared_classifier)."""
    raw = path.read_bytes()[:HEADER.size] if path.stat().st_size >= HEADER.size else b""
    if len(raw) < HEADER.size:
        raise CheckpointError(f"{path}: truncated llama2.c header ({len(raw)} of {HEADER.size} bytes)")
    dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = HEADER.unpack(raw)
    if raw[:4] == b"ak42"[::-1] or int.from_bytes(raw[:4], "little") == 0x616B3432:
        raise CheckpointError(f"{path}: llama2.c v1/v2 export (magic 'ak42'); only the legacy format is supported")
    if min(dim, hidden_dim, n_layers, n_heads, n_kv_heads, seq_len) <= 0 or dim % n_heads:
        raise CheckpointError(f"{path}: implausible llama2.c header {(dim, hidden_dim, n_layers, n_heads)}")
    cfg = ModelConfig(dim=dim, hidden_dim=hidden_dim, n_layers=n_layers, n_heads=n_heads,
                      n_kv_heads=n_kv_heads, vocab_size=abs(vocab_size), max_seq_len=seq_len,
                      norm_eps=1e-5, tie_embeddings=vocab_size > 0)
    return cfg, vocab_size > 0


def checkpoints_in(folder: Path) -> list[Path]:
    """The folder's .bin files that are legacy llama2.c exports (a tokenizer .bin, e.g. tok512.bin, is not:
    its size does not match a plausible header)."""
    found = []
    for path in sorted(folder.glob("*.bin")):
        try:
            cfg, shared = read_config(path)
        except CheckpointError:
            continue
        if path.stat().st_size == _size(_layout(cfg, shared)):
            found.append(path)
    return found


def _layout(cfg: ModelConfig, shared: bool) -> list[tuple[str, tuple[int, ...]]]:
    L, D, F, V, hd = cfg.n_layers, cfg.dim, cfg.ffn_dim, cfg.vocab_size, cfg.head_dim
    kv = cfg.kv_heads * hd
    layout = [("tok_embeddings.weight", (V, D)), ("attention_norm", (L, D)), ("wq", (L, D, D)),
              ("wk", (L, kv, D)), ("wv", (L, kv, D)), ("wo", (L, D, D)), ("ffn_norm", (L, D)),
              ("w1", (L, F, D)), ("w2", (L, D, F)), ("w3", (L, F, D)), ("norm.weight", (D,)),
              ("freq_cis", (2, cfg.max_seq_len, hd // 2))]  # unused leftovers of old exports
    if not shared:
        layout.append(("output.weight", (V, D)))
    return layout


def _size(layout: list[tuple[str, tuple[int, ...]]]) -> int:
    return HEADER.size + 4 * sum(int(np.prod(shape)) for _, shape in layout)


def _check_size(path: Path, layout: list[tuple[str, tuple[int, ...]]]) -> None:
    needed, size = _size(layout), path.stat().st_size
    if size != needed:
        raise CheckpointError(f"{path}: {size} bytes, but its header {HEADER.unpack(path.read_bytes()[:28])} "
                              f"implies {needed} (truncated or not a legacy llama2.c export)")


def tensor_index(path: Path) -> tuple[ModelConfig, dict[str, Stored]]:
    """As load_state_dict, but each tensor located in the file (see stored.py), not mapped."""
    cfg, shared = read_config(path)
    layout = _layout(cfg, shared)
    _check_size(path, layout)
    index: dict[str, Stored] = {}
    offset = HEADER.size
    for name, shape in layout:
        if name.endswith(".weight"):
            index[name] = FileTensor(path, offset, torch.float32, shape)
        elif name != "freq_cis":  # stacked per layer: (L, ...)
            group = "feed_forward" if name in ("w1", "w2", "w3") else "attention"
            per_layer = 4 * int(np.prod(shape[1:]))
            for i in range(cfg.n_layers):
                full = f"layers.{i}.{name}.weight" if name.endswith("norm") else f"layers.{i}.{group}.{name}.weight"
                index[full] = FileTensor(path, offset + i * per_layer, torch.float32, shape[1:])
        offset += 4 * int(np.prod(shape))
    if shared:
        index["output.weight"] = index["tok_embeddings.weight"]
    return cfg, index


def load_state_dict(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    cfg, shared = read_config(path)
    L = cfg.n_layers
    layout = _layout(cfg, shared)
    _check_size(path, layout)
    flat = torch.from_numpy(np.memmap(path, dtype="<f4", mode="c", offset=HEADER.size))
    tensors, offset = {}, 0
    for name, shape in layout:
        count = int(np.prod(shape))
        tensors[name] = flat[offset:offset + count].view(shape)
        offset += count
    sd = {name: tensors[name] for name in ("tok_embeddings.weight", "norm.weight", "output.weight") if name in tensors}
    for i in range(L):
        sd[f"layers.{i}.attention_norm.weight"] = tensors["attention_norm"][i]
        sd[f"layers.{i}.ffn_norm.weight"] = tensors["ffn_norm"][i]
        for w in ("wq", "wk", "wv", "wo"):
            sd[f"layers.{i}.attention.{w}.weight"] = tensors[w][i]
        for w in ("w1", "w2", "w3"):
            sd[f"layers.{i}.feed_forward.{w}.weight"] = tensors[w][i]
    return cfg, sd
