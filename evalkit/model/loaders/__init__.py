"""Load a model from what `--model` names: `tiny`, a llama2.c .bin, a Meta folder, a HF folder or Hub id.

Every loader produces a Meta-named state dict; the model is built on the meta device and the
tensors are assigned, so memory-mapped weights are copied at most once (to change dtype or device,
or, for fp32 on the CPU, into the column-major layout that decodes faster: see Transformer.load_weights).
"""
from __future__ import annotations

from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.loaders.common import LoadedModel, build_model, check_vocab, find_tokenizer, fingerprint
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


def detect(spec: str) -> tuple[str, Path]:
    """(format, path) of what `--model` names: tiny, llama2c (the .bin), meta or hf (the folder), or hub
    (a Hub id not found locally)."""
    from evalkit.model.loaders import hf
    if spec == "tiny":
        return "tiny", Path(spec)
    path = Path(spec).expanduser()
    if path.is_dir() and not (path / "params.json").is_file() and not (path / "config.json").is_file():
        path = _single_llama2c(path)
    if path.is_file() and path.suffix == ".bin":
        return "llama2c", path
    if path.is_dir() and (path / "params.json").is_file():
        return "meta", path
    if path.is_dir() and (path / "config.json").is_file():
        return "hf", path
    if not path.exists() and hf.looks_like_hub_id(spec):
        return "hub", path
    if path.exists():
        raise CheckpointError(f"{path}: not a recognised checkpoint (expected a llama2.c .bin, a folder with "
                              "params.json (Meta) or config.json (Hugging Face), or 'tiny')")
    raise CheckpointError(f"{spec}: no such file or folder, and not a Hugging Face Hub id")


def torch_dtype(dtype: str | None) -> torch.dtype | None:
    if dtype is not None and dtype not in DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    return None if dtype is None else DTYPES[dtype]


def load_model(spec: str, device: str = "cpu", dtype: str | None = None, tp=None) -> LoadedModel:
    """Detect the checkpoint format from `spec` and load it. dtype None keeps the stored dtype. With `tp`
    (a TensorParallel of more than one rank) only this rank's slice is read (see sliced.py)."""
    from evalkit.model.loaders import hf, llama2c, meta, tiny

    wanted = torch_dtype(dtype)
    fmt, path = detect(spec)
    if fmt == "hub":
        return load_model(str(hf.download(spec)), device, dtype, tp)
    if tp is not None and tp.size > 1:
        from evalkit.model.loaders.sliced import load_slice
        return load_slice(spec, fmt, path, device, wanted, tp)
    if fmt == "tiny":
        return tiny.load(device, wanted)
    if fmt == "llama2c":
        cfg, sd = llama2c.load_state_dict(path)
        tokenizer = Tokenizer(find_tokenizer(path.parent))
        files = [path, tokenizer.path]
    else:
        cfg, sd, tokenizer, files = (meta if fmt == "meta" else hf).load_state_dict(path)
    check_vocab(cfg, tokenizer)
    model = build_model(cfg, sd, str(path), wanted, device)
    return LoadedModel(model, tokenizer, spec, fmt, fingerprint(fmt, files, model.dtype))
