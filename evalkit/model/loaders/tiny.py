"""The embedded default model `tiny`: the "tiny" preset with seeded random weights and a bundled tokenizer.

It needs no download and scores thousands of requests a second on a CPU, so CI runs every task end to
end. Weights are drawn on the CPU from one fixed seed in parameter order (matrices ~ N(0, 0.02),
norms = 1), so they are identical on every machine; the tokenizer is evalkit/assets/tiny/tokenizer.model
(see the README there for how it was trained).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from evalkit.model.config import preset
from evalkit.model.llama import Transformer
from evalkit.model.loaders.common import LoadedModel, build_model, file_fingerprint
from evalkit.tokenizer import Tokenizer

TOKENIZER = Path(__file__).resolve().parents[2] / "assets" / "tiny" / "tokenizer.model"
SEED = 1234


def random_state_dict(cfg, seed: int = SEED) -> dict[str, torch.Tensor]:
    """fp32 weights for `cfg` drawn from a CPU generator: deterministic across machines and devices."""
    with torch.device("meta"):
        shapes = {name: p.shape for name, p in Transformer(cfg).named_parameters()}
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return {name: torch.ones(shape) if len(shape) == 1 else torch.empty(shape).normal_(0.0, 0.02, generator=generator)
            for name, shape in shapes.items()}


def load(device: str = "cpu", dtype: torch.dtype | None = None) -> LoadedModel:
    tokenizer = Tokenizer(TOKENIZER)
    cfg = preset("tiny").with_(vocab_size=tokenizer.vocab_size)
    model = build_model(cfg, random_state_dict(cfg), "tiny", dtype, device)
    return LoadedModel(model, tokenizer, "tiny", "tiny", load_fingerprint(cfg, model.dtype))


def load_fingerprint(cfg, dtype: torch.dtype) -> str:
    return hashlib.sha256(f"tiny:{SEED}:{cfg}:{file_fingerprint([TOKENIZER])}:{dtype}".encode()).hexdigest()[:16]
