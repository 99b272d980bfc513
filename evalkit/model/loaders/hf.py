"""Hugging Face Llama checkpoints: config.json + safetensors or pytorch_model*.bin (sharded or not) + tokenizer.model.

Names are mapped to Meta's, and the rotary permutation that transformers'
`convert_llama_weights_to_hf.py` applies to wq/wk is undone: HF rotates the two halves of each head
(rotate_half), Meta rotates interleaved pairs, and the conversion reorders each head's rows
(2i, 2i+1) -> (i, hd/2 + i) so both give the same result. Also: Hub ids (`owner/name`) are fetched
with huggingface_hub.snapshot_download, which honours HF_HUB_OFFLINE, HF_ENDPOINT and HF_HOME. For tensor
parallelism, `tensor_index` locates each tensor in its file and each rank reads its slice of it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.loaders.common import find_tokenizer
from evalkit.model.loaders.config_file import config_errors
from evalkit.model.loaders.stored import Stored, index_safetensors, index_torch_file, read
from evalkit.model.tensor_parallel import Slice
from evalkit.tokenizer import Tokenizer

LAYER_NAMES = {
    "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk", "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo", "mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2",
    "mlp.up_proj": "feed_forward.w3", "input_layernorm": "attention_norm", "post_attention_layernorm": "ffn_norm",
}
TOP_NAMES = {"model.embed_tokens.weight": "tok_embeddings.weight", "model.norm.weight": "norm.weight",
             "lm_head.weight": "output.weight"}
LAYER_RE = re.compile(r"model\.layers\.(\d+)\.(.+)\.weight")


def read_config(path: Path) -> ModelConfig:
    with config_errors(path):
        c = json.loads(path.read_text())
        rope = c.get("rope_parameters") or c.get("rope_scaling") or {}  # transformers 5 nests rope_theta here
        if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
            raise CheckpointError(f"{path}: rope scaling {rope.get('rope_type', rope.get('type'))!r} is not supported")
        unsupported = [k for k in ("attention_bias", "mlp_bias") if c.get(k)]
        if c.get("model_type", "llama") != "llama" or c.get("hidden_act", "silu") != "silu" or unsupported:
            raise CheckpointError(f"{path}: not a plain Llama (model_type={c.get('model_type')!r}, "
                                  f"hidden_act={c.get('hidden_act')!r}, biases={unsupported})")
        cfg = ModelConfig(
            dim=int(c["hidden_size"]), hidden_dim=int(c["intermediate_size"]),
            n_layers=int(c["num_hidden_layers"]), n_heads=int(c["num_attention_heads"]),
            n_kv_heads=int(c.get("num_key_value_heads") or c["num_attention_heads"]),
            vocab_size=int(c["vocab_size"]), norm_eps=float(c.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope.get("rope_theta", c.get("rope_theta", 10000.0))),
            max_seq_len=int(c.get("max_position_embeddings", 2048)),
            tie_embeddings=bool(c.get("tie_word_embeddings", False)),
        )
        head_dim = c.get("head_dim") or cfg.head_dim
    if cfg.dim % cfg.n_heads or head_dim != cfg.head_dim or cfg.n_heads % cfg.kv_heads:
        raise CheckpointError(f"{path}: head_dim {head_dim} with hidden_size {cfg.dim} and "
                              f"{cfg.n_heads}/{cfg.kv_heads} heads is not supported")
    return cfg


def weight_files(folder: Path) -> list[Path]:
    """The weight files, safetensors preferred; a sharded index lists its files, all must exist."""
    for single, index in (("model.safetensors", "model.safetensors.index.json"),
                          ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if (folder / index).is_file():
            try:
                files = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as error:
                raise CheckpointError(f"{folder / index}: not a weight index ({error})") from None
            for name in files:
                if not (folder / name).is_file():
                    raise CheckpointError(f"{folder / name}: shard missing (listed in {index})")
            return [folder / name for name in files]
        if (folder / single).is_file():
            return [folder / single]
    raise CheckpointError(f"{folder}: no model.safetensors or pytorch_model.bin (nor a sharded index)")


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            with safe_open(str(path), framework="pt", device="cpu") as handle:  # memory-mapped
                return {name: handle.get_tensor(name) for name in handle.keys()}
        return torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:  # noqa: BLE001 - truncated or corrupt files raise many kinds of errors
        raise CheckpointError(f"{path}: unreadable ({type(error).__name__}: {str(error).splitlines()[0]})") from None


def unpermute(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Invert HF's permute (w.view(nh, hd/2, 2, dim).transpose(1, 2)): rows back to interleaved pairs."""
    rows, dim = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, dim).transpose(1, 2).reshape(rows, dim)


def meta_name(name: str) -> str | None:
    if name in TOP_NAMES:
        return TOP_NAMES[name]
    match = LAYER_RE.fullmatch(name)
    if match and match.group(2) in LAYER_NAMES:
        return f"layers.{match.group(1)}.{LAYER_NAMES[match.group(2)]}.weight"
    return None


def to_meta(tensors: dict[str, torch.Tensor], cfg: ModelConfig, source: Path | str) -> dict[str, torch.Tensor]:
    """HF-named Llama tensors -> Meta-named, with wq/wk rows back in Meta's interleaved rotary order."""
    state_dict = {}
    for name, tensor in tensors.items():
        if name.endswith("rotary_emb.inv_freq"):  # buffer saved by old transformers versions
            continue
        new = meta_name(name)
        if new is None:
            raise CheckpointError(f"{source}: unknown tensor {name!r} (not a Llama weight)")
        if new.endswith(("attention.wq.weight", "attention.wk.weight")):
            heads = cfg.n_heads if new.endswith("wq.weight") else cfg.kv_heads
            if tensor.ndim != 2 or tensor.shape[0] % (2 * heads):
                raise CheckpointError(f"{source}: tensor {name} has shape {tuple(tensor.shape)}, "
                                      f"not {heads} heads of rows")
            tensor = unpermute(tensor, heads)
        state_dict[new] = tensor
    return state_dict


@dataclass(frozen=True)
class UnpermutedRows:
    """A stored HF q_proj/k_proj: its rows are head-major in Meta's head order (the permutation stays inside
    each head), so a slice of whole heads is read as is and then unpermuted with its own head count."""
    stored: Stored
    heads: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.stored.shape

    @property
    def dtype(self) -> torch.dtype:
        return self.stored.dtype

    def read_into(self, part: Slice | None, dest: torch.Tensor) -> None:
        rows = read(self.stored, part)  # (local heads * hd, dim) in HF's order: one transient copy
        dest.copy_(unpermute(rows, self.heads * rows.shape[0] // self.shape[0]))


def tensor_index(folder: Path) -> tuple[ModelConfig, dict[str, Stored], Tokenizer, list[Path]]:
    """As load_state_dict, but each tensor located in its file (Meta-named, see stored.py), not read."""
    cfg = read_config(folder / "config.json")
    tokenizer = Tokenizer(find_tokenizer(folder))
    files = weight_files(folder)
    index: dict[str, Stored] = {}
    for path in files:
        found = index_safetensors(path) if path.suffix == ".safetensors" else index_torch_file(path)
        for name, stored in found.items():
            if name.endswith("rotary_emb.inv_freq"):
                continue
            new = meta_name(name)
            if new is None:
                raise CheckpointError(f"{path}: unknown tensor {name!r} (not a Llama weight)")
            if new.endswith(("attention.wq.weight", "attention.wk.weight")):
                stored = UnpermutedRows(stored, cfg.n_heads if new.endswith("wq.weight") else cfg.kv_heads)
            index[new] = stored
    return cfg, index, tokenizer, [folder / "config.json", tokenizer.path, *files]


def load_state_dict(folder: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], Tokenizer, list[Path]]:
    cfg = read_config(folder / "config.json")
    tokenizer = Tokenizer(find_tokenizer(folder))
    files = weight_files(folder)
    state_dict = {}
    for path in files:
        state_dict.update(to_meta(read_tensors(path), cfg, path))
    return cfg, state_dict, tokenizer, [folder / "config.json", tokenizer.path, *files]


def looks_like_hub_id(spec: str) -> bool:
    """`owner/name` with the Hub's allowed characters (a local path that does not exist also matches)."""
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", spec) is not None and ".." not in spec


def download(repo_id: str) -> Path:
    """Fetch (or find in the local cache) a Hub repo's config, tokenizer and weights; return its folder."""
    from huggingface_hub import snapshot_download

    wanted = ["*.json", "tokenizer.model", "*.safetensors"]
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=wanted))
        if not any(folder.glob("*.safetensors")):  # older repos ship only pytorch_model*.bin
            folder = Path(snapshot_download(repo_id, allow_patterns=wanted + ["pytorch_model*.bin"]))
    except Exception as error:  # noqa: BLE001 - offline, DNS, HTTP 401/404, timeouts: all one message
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{repo_id}: not in the local cache and not downloadable from the Hugging Face "
                              f"Hub ({reason})") from None
    return folder
