"""A model's config without its weights: what `--model` names, read from its header or config file.

Presets by name (7B, 13B, 33B, 65B, small, tiny), a llama2.c .bin (or its folder), a Meta folder
(params.json; the tokenizer only when params.json leaves the vocabulary size to it) or a Hugging Face
folder (config.json). Each format's own parser reads its file, so a config reads as the loader reads it.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import CheckpointError
from evalkit.model.config import PRESETS, ModelConfig


def model_config(spec: str) -> ModelConfig:
    """The config of what `spec` names, without reading weights."""
    from evalkit.model.loaders import _single_llama2c, hf, llama2c, meta
    from evalkit.tokenizer import Tokenizer

    if spec in PRESETS:
        return PRESETS[spec]
    path = Path(spec).expanduser()
    if path.is_dir() and not (path / "params.json").is_file() and not (path / "config.json").is_file():
        path = _single_llama2c(path)
    if path.is_file() and path.suffix == ".bin":
        return llama2c.read_config(path)[0]
    if path.is_dir() and (path / "params.json").is_file():
        return meta.read_params(path / "params.json", Tokenizer(meta.find_meta_tokenizer(path)))
    if path.is_dir() and (path / "config.json").is_file():
        return hf.read_config(path / "config.json")
    if path.exists():
        raise CheckpointError(f"{path}: not a recognised checkpoint (expected a llama2.c .bin, a folder with "
                              "params.json (Meta) or config.json (Hugging Face), or a preset)")
    raise CheckpointError(f"{spec}: no such file or folder, and not a preset ({', '.join(PRESETS)}); "
                          "a Hub id must be downloaded first")
