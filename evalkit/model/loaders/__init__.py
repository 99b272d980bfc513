"""Load a model from what `--model` names: `tiny`, a llama2.c .bin, a Meta folder, a HF folder or Hub id.

Every loader produces a Meta-named state dict; the model is built on the meta device and the
tensors are assigned, so memory-mapped weights are copied at most once (to change dtype or device,
or, for fp32 on the CPU, into the column-major layout that decodes faster: see Transformer.load_weights).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.loaders.common import LoadedModel, build_model, file_fingerprint, find_tokenizer
from evalkit.tokenizer import Tokenizer

__all__ = ["DTYPES", "LoadedModel", "load_model"]

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def _single_llama2c(folder: Path) -> Path:
    """A folder holding one llama2.c export (and its tokenizer) stands for that export."""
    from evalkit.model.loaders import llama2c
    found = llama2c.checkpoints_in(folder)
    if len(found) > 1:
        raise CheckpointError(f"{folder}: holds {len(found)} llama2.c exports ({', '.join(p.name for p in found)}); "
                              "pass one of them as --model")
    return found[0] if found else folder


def load_model(spec: str, device: str = "cpu", dtype: str | None = None) -> LoadedModel:
    """Detect the checkpoint format from `spec` and load it. dtype None keeps the stored dtype."""
    from evalkit.model.loaders import hf, llama2c, meta, tiny  # noqa: F401  (formats register below)

    torch_dtype = None
    if dtype is not None:
        if dtype not in DTYPES:
            raise CheckpointError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        torch_dtype = DTYPES[dtype]
    if spec == "tiny":
        return tiny.load(device, torch_dtype)
    path = Path(spec).expanduser()
    if path.is_dir() and not (path / "params.json").is_file() and not (path / "config.json").is_file():
        path = _single_llama2c(path)
    if path.is_file() and path.suffix == ".bin":
        cfg, sd = llama2c.load_state_dict(path)
        tokenizer = Tokenizer(find_tokenizer(path.parent))
        files = [path, tokenizer.path]
        fmt = "llama2c"
    elif path.is_dir() and (path / "params.json").is_file():
        cfg, sd, tokenizer, files = meta.load_state_dict(path)
        fmt = "meta"
    elif path.is_dir() and (path / "config.json").is_file():
        cfg, sd, tokenizer, files = hf.load_state_dict(path)
        fmt = "hf"
    elif not path.exists() and hf.looks_like_hub_id(spec):
        return load_model(str(hf.download(spec)), device, dtype)
    elif path.exists():
        raise CheckpointError(f"{path}: not a recognised checkpoint (expected a llama2.c .bin, a folder with "
                              "params.json (Meta) or config.json (Hugging Face), or 'tiny')")
    else:
        raise CheckpointError(f"{spec}: no such file or folder, and not a Hugging Face Hub id")
    if tokenizer.vocab_size != cfg.vocab_size:
        raise CheckpointError(f"{tokenizer.path}: tokenizer has {tokenizer.vocab_size} tokens, "
                              f"the model's embedding has {cfg.vocab_size}")
    model = build_model(cfg, sd, str(path), torch_dtype, device)
    fingerprint = hashlib.sha256(f"{fmt}:{file_fingerprint(files)}:{model.dtype}".encode()).hexdigest()[:16]
    return LoadedModel(model, tokenizer, spec, fmt, fingerprint)
