"""Meta's original LLaMA release: params.json + consolidated.NN.pth (+ tokenizer.model).

The larger models are split for model parallelism (13B: 2 files, 33B: 4, 65B: 8) the way
fairscale's layers split them in facebookresearch/llama `model.py`:
- ColumnParallelLinear (wq, wk, wv, w1, w3, output) splits the output features: concatenate on dim 0;
- RowParallelLinear (wo, w2) splits the input features: concatenate on dim 1;
- ParallelEmbedding (tok_embeddings) splits the embedding dim: concatenate on dim 1;
- RMSNorm weights are replicated: take shard 0.
Shards are memory-mapped and merged one tensor at a time, so RAM holds one full copy at most. For tensor
parallelism, `tensor_index` only locates each tensor's parts, and each rank reads its slice of them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.loaders.common import find_tokenizer
from evalkit.model.loaders.config_file import config_errors
from evalkit.model.loaders.stored import ConcatTensor, Stored, index_torch_file, load_shard
from evalkit.tokenizer import Tokenizer

CONCAT_DIM = {"wq": 0, "wk": 0, "wv": 0, "w1": 0, "w3": 0, "output": 0, "wo": 1, "w2": 1, "tok_embeddings": 1}
IGNORED = {"rope.freqs"}  # precomputed rotary table of LLaMA-1 checkpoints; we compute our own


def read_params(path: Path, tokenizer: Tokenizer) -> ModelConfig:
    with config_errors(path):
        params = json.loads(path.read_text())
        vocab = params.get("vocab_size", -1)
        cfg = ModelConfig(
            dim=int(params["dim"]), n_layers=int(params["n_layers"]), n_heads=int(params["n_heads"]),
            n_kv_heads=params.get("n_kv_heads"),
            vocab_size=tokenizer.vocab_size if vocab in (-1, None) else int(vocab),  # LLaMA-1 stores -1
            multiple_of=int(params.get("multiple_of", 256)),
            ffn_dim_multiplier=params.get("ffn_dim_multiplier"),
            norm_eps=float(params.get("norm_eps", 1e-6)),
            rope_theta=float(params.get("rope_theta", 10000.0)),
        )
    if cfg.dim <= 0 or cfg.n_heads <= 0 or cfg.n_layers <= 0 or cfg.dim % cfg.n_heads or cfg.n_heads % cfg.kv_heads:
        raise CheckpointError(f"{path}: implausible dim={cfg.dim}, n_heads={cfg.n_heads}, n_kv_heads={cfg.kv_heads}")
    return cfg


def shard_files(folder: Path) -> list[Path]:
    """consolidated.00.pth, .01, ... in order; a gap in the numbering means a missing shard."""
    found = {int(m.group(1)): p for p in folder.glob("consolidated.*.pth")
             if (m := re.fullmatch(r"consolidated\.(\d+)\.pth", p.name))}
    if not found:
        raise CheckpointError(f"{folder}: no consolidated.NN.pth weight files next to params.json")
    for i in range(max(found) + 1):
        if i not in found:
            raise CheckpointError(f"{folder / f'consolidated.{i:02d}.pth'}: shard missing "
                                  f"({len(found)} of {max(found) + 1} model-parallel files present)")
    return [found[i] for i in sorted(found)]


def merge(name: str, parts: list[torch.Tensor]) -> torch.Tensor:
    """One tensor from its model-parallel parts (a single part is kept as is: still memory-mapped)."""
    if len(parts) == 1:
        return parts[0]
    kind = name.split(".")[-2]  # layers.3.attention.wq.weight -> wq
    if kind not in CONCAT_DIM:
        return parts[0]  # replicated (norms)
    return torch.cat(parts, dim=CONCAT_DIM[kind])


def find_meta_tokenizer(folder: Path) -> Path:
    """Next to the weights, or one level up: the LLaMA-1 release shares llama/tokenizer.model among llama/7B, ..."""
    if not any(folder.glob("*.model")) and (folder.parent / "tokenizer.model").is_file():
        return folder.parent / "tokenizer.model"
    return find_tokenizer(folder)


def tensor_index(folder: Path) -> tuple[ModelConfig, dict[str, Stored], Tokenizer, list[Path]]:
    """As load_state_dict, but each tensor located (its shards' parts, see stored.py), not read."""
    tokenizer = Tokenizer(find_meta_tokenizer(folder))
    cfg = read_params(folder / "params.json", tokenizer)
    files = shard_files(folder)
    shards = [index_torch_file(path) for path in files]
    for path, shard in zip(files[1:], shards[1:]):
        if set(shard) != set(shards[0]):
            diff = sorted(set(shard) ^ set(shards[0]))[:3]
            raise CheckpointError(f"{path}: its tensor names differ from {files[0].name}'s (e.g. {diff})")
    index: dict[str, Stored] = {}
    for name in shards[0]:
        if name in IGNORED:
            continue
        kind = name.split(".")[-2]  # layers.3.attention.wq.weight -> wq
        split = len(files) > 1 and kind in CONCAT_DIM
        index[name] = ConcatTensor(tuple(s[name] for s in shards), CONCAT_DIM[kind]) if split else shards[0][name]
    width = index["tok_embeddings.weight"].shape[1] if "tok_embeddings.weight" in index else cfg.dim
    if width != cfg.dim:
        raise CheckpointError(f"{files[-1]}: {len(files)} shard(s) give an embedding width of {width}, "
                              f"params.json says dim {cfg.dim} (a model-parallel shard missing or extra?)")
    return cfg, index, tokenizer, [folder / "params.json", tokenizer.path, *files]


def load_state_dict(folder: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], Tokenizer, list[Path]]:
    tokenizer = Tokenizer(find_meta_tokenizer(folder))
    cfg = read_params(folder / "params.json", tokenizer)
    files = shard_files(folder)
    shards = [load_shard(path) for path in files]
    names = [name for name in shards[0] if name not in IGNORED]
    for path, shard in zip(files[1:], shards[1:]):
        if set(shard) != set(shards[0]):
            diff = sorted(set(shard) ^ set(shards[0]))[:3]
            raise CheckpointError(f"{path}: its tensor names differ from {files[0].name}'s (e.g. {diff})")
    state_dict = {}
    for name in names:
        state_dict[name] = merge(name, [shard[name] for shard in shards])
        for shard in shards:
            del shard[name]  # a shard read without mmap (pre-1.6 format) frees each part once merged
    width = state_dict.get("tok_embeddings.weight", torch.empty(0, cfg.dim)).shape[1]
    if width != cfg.dim:
        raise CheckpointError(f"{files[-1]}: {len(files)} shard(s) give an embedding width of {width}, "
                              f"params.json says dim {cfg.dim} (a model-parallel shard missing or extra?)")
    return cfg, state_dict, tokenizer, [folder / "params.json", tokenizer.path, *files]
