"""What the checkpoint loaders share: the loaded-model record, file fingerprints, finding the tokenizer,
and building the model on the meta device before its tensors are assigned."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.llama import Transformer
from evalkit.tokenizer import Tokenizer


@dataclass
class LoadedModel:
    model: Transformer
    tokenizer: Tokenizer
    name: str          # what the user passed to --model
    format: str        # tiny | llama2c | meta | hf
    fingerprint: str   # identifies weights + tokenizer + dtype, for response caches

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg


def file_fingerprint(paths: list[Path]) -> str:
    """sha256 over names, sizes and content; large files are sampled (head, tail, 16 strides)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            if size <= 64 << 20:
                digest.update(handle.read())
                continue
            for i in range(18):
                handle.seek(min(size - (1 << 20), max(0, (size * i) // 17 - (1 << 19))))
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def find_tokenizer(folder: Path) -> Path:
    candidates = [folder / "tokenizer.model"] + sorted(folder.glob("*.model"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"{folder}: no SentencePiece tokenizer (*.model) next to the weights")


def build_model(cfg: ModelConfig, state_dict: dict[str, torch.Tensor], source: str,
                dtype: torch.dtype | None, device: str) -> Transformer:
    with torch.device("meta"):
        model = Transformer(cfg)
    model.load_weights(state_dict, source, dtype=dtype, device=device)
    return model.eval().requires_grad_(False)  # inference only: no autograd graphs by accident


def check_vocab(cfg, tokenizer: Tokenizer) -> None:
    if tokenizer.vocab_size != cfg.vocab_size:
        raise CheckpointError(f"{tokenizer.path}: tokenizer has {tokenizer.vocab_size} tokens, "
                              f"the model's embedding has {cfg.vocab_size}")


def fingerprint(fmt: str, files: list[Path], dtype: torch.dtype) -> str:
    return hashlib.sha256(f"{fmt}:{file_fingerprint(files)}:{dtype}".encode()).hexdigest()[:16]
