"""Loading a transformers causal LM and its tokenizer from a folder or a Hub id.

Imported only once transformers is known to be installed (hf.require_transformers). Hub ids are fetched
with huggingface_hub.snapshot_download (it honours HF_HUB_OFFLINE, HF_ENDPOINT and HF_HOME); any failure
to find, download or load becomes one CheckpointError line naming the model.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from evalkit.backends.hf_model import CausalLM
from evalkit.errors import CheckpointError
from evalkit.model.loaders import DTYPES
from evalkit.model.loaders.hf import looks_like_hub_id

HUB_FILES = ["*.json", "*.model", "*.txt", "*.tiktoken", "*.safetensors"]  # config, tokenizer, weights
FINGERPRINTED = {".json", ".model", ".txt", ".tiktoken", ".safetensors", ".bin"}
DEFAULT_MAX_LENGTH = 2048  # lm-eval's default when a config names no window
WINDOW_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def resolve(spec: str) -> Path:
    """The local folder that `spec` names: a folder as given, or a Hub id's snapshot (downloaded if needed)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{path}: not a transformers model folder (no config.json)")
        return path
    if path.exists() or not looks_like_hub_id(spec):
        raise CheckpointError(f"{spec}: no such folder, and not a Hugging Face Hub id")
    from huggingface_hub import snapshot_download
    try:
        folder = Path(snapshot_download(spec, allow_patterns=HUB_FILES))
        if not any(folder.glob("*.safetensors")):  # older repos ship only pytorch_model*.bin
            folder = Path(snapshot_download(spec, allow_patterns=HUB_FILES + ["pytorch_model*.bin"]))
    except Exception as error:  # noqa: BLE001 - offline, DNS, HTTP 401/404, timeouts: all one message
        raise CheckpointError(f"{spec}: not in the local cache and not downloadable from the Hugging Face "
                              f"Hub ({_first_line(error)})") from None
    return folder


def load_pretrained(folder: Path, spec: str, dtype: str | None, device: str):
    """(tokenizer, CausalLM) from a local folder; dtype None keeps the stored dtype."""
    if dtype is not None and dtype not in DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    dtype_key = "dtype" if _version() >= (4, 56) else "torch_dtype"
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, **{dtype_key: DTYPES[dtype] if dtype else "auto"})
    except Exception as error:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError... for bad folders
        raise CheckpointError(f"{spec}: transformers cannot load it ({_first_line(error)})") from None
    return tokenizer, wrap(model.to(device).eval().requires_grad_(False))


def wrap(model: torch.nn.Module) -> CausalLM:
    """A CausalLM that shares contexts through a DynamicCache where forward takes one and position ids."""
    params = inspect.signature(model.forward).parameters
    cache_arg = next((name for name in ("cache", "past_key_values") if name in params), None)

    def new_cache():
        try:
            return DynamicCache(config=model.config)  # sliding-window layers where the model has them
        except TypeError:  # transformers < 4.56
            return DynamicCache()

    return CausalLM(model, cache_arg if "position_ids" in params else None, "logits_to_keep" in params, new_cache)


def max_length(model: torch.nn.Module) -> int:
    """The context window from the config (max_position_embeddings or its older names)."""
    for key in WINDOW_KEYS:
        value = getattr(model.config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_LENGTH


def fingerprinted_files(folder: Path) -> list[Path]:
    """Config, tokenizer and weight files: what decides the answers."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in FINGERPRINTED)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _version() -> tuple[int, int]:
    major, minor = transformers.__version__.split(".")[:2]
    return int(major), int(minor)
