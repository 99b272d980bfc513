"""Random LLaMA checkpoints written as Meta's model-parallel shards and as Hugging Face safetensors, for the
tensor-parallel tests (same weights in both, tok512 as the tokenizer)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from evalkit.model.config import ModelConfig
from evalkit.model.loaders.tiny import random_state_dict
from tests.conftest import STORIES_DIR
from tests.test_loaders_meta import split_like_meta


def random_weights(cfg: ModelConfig, seed: int = 0, scale: float = 10.0) -> dict[str, torch.Tensor]:
    """Meta-named weights ~ N(0, (0.02 scale)^2): large enough that attention is far from uniform, so a head
    or rotary pair read from the wrong place changes the outputs visibly."""
    return {name: t if t.ndim == 1 else t * scale for name, t in random_state_dict(cfg, seed).items()}


def write_meta(folder: Path, cfg: ModelConfig, weights: dict[str, torch.Tensor], n_shards: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    params = {"dim": cfg.dim, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "n_kv_heads": cfg.n_kv_heads,
              "multiple_of": cfg.multiple_of, "norm_eps": cfg.norm_eps, "vocab_size": cfg.vocab_size}
    (folder / "params.json").write_text(json.dumps(params))
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    for i, shard in enumerate(split_like_meta(weights, n_shards)):
        torch.save(shard, folder / f"consolidated.{i:02d}.pth")
    return folder


def hf_permute(w: torch.Tensor, heads: int) -> torch.Tensor:
    """transformers' convert_llama_weights_to_hf permute: each head's interleaved pairs -> two halves."""
    rows, dim = w.shape
    return w.view(heads, rows // heads // 2, 2, dim).transpose(1, 2).reshape(rows, dim)


def write_hf(folder: Path, cfg: ModelConfig, weights: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    from evalkit.model.loaders.hf import LAYER_NAMES, TOP_NAMES
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "llama", "hidden_size": cfg.dim, "intermediate_size": cfg.ffn_dim,
              "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads,
              "num_key_value_heads": cfg.kv_heads, "vocab_size": cfg.vocab_size, "rms_norm_eps": cfg.norm_eps,
              "max_position_embeddings": cfg.max_seq_len, "tie_word_embeddings": False, "hidden_act": "silu"}
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    to_hf = {f"{meta}.weight": hf for hf, meta in LAYER_NAMES.items()}
    tensors = {}
    for name, t in weights.items():
        if name in TOP_NAMES.values():
            tensors[next(k for k, v in TOP_NAMES.items() if v == name)] = t.contiguous()
            continue
        _, layer, rest = name.split(".", 2)  # layers.3.attention.wq.weight
        if rest.endswith(("wq.weight", "wk.weight")):
            t = hf_permute(t, cfg.n_heads if rest.endswith("wq.weight") else cfg.kv_heads)
        tensors[f"model.layers.{layer}.{to_hf[rest]}.weight"] = t.contiguous()
    save_file(tensors, folder / "model.safetensors")
    return folder
