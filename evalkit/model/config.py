"""Model configuration and named presets (the paper's Table 2 and small test models)."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ModelConfig:
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int | None = None       # grouped-query attention; None means n_heads (plain MHA)
    vocab_size: int = 32000
    multiple_of: int = 256              # LLaMA rounds the SwiGLU hidden size up to a multiple of this
    ffn_dim_multiplier: float | None = None  # Llama 2 70B / Code Llama scale the hidden size
    hidden_dim: int | None = None       # explicit FFN size (HF configs, llama2.c); overrides the rule
    norm_eps: float = 1e-6              # LLaMA-1 used 1e-6; Llama 2 and llama2.c use 1e-5
    rope_theta: float = 10000.0
    max_seq_len: int = 2048             # the paper's context length
    tie_embeddings: bool = False        # output layer shares tok_embeddings' weight

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def ffn_dim(self) -> int:
        """SwiGLU hidden size: 2/3 of 4*dim (same parameter count as a 4*dim MLP), rounded up."""
        if self.hidden_dim is not None:
            return self.hidden_dim
        hidden = int(2 * (4 * self.dim) / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return self.multiple_of * ((hidden + self.multiple_of - 1) // self.multiple_of)

    def with_(self, **changes) -> "ModelConfig":
        return replace(self, **changes)


PRESETS: dict[str, ModelConfig] = {
    # Table 2 of Touvron et al. 2023
    "7B": ModelConfig(dim=4096, n_heads=32, n_layers=32),
    "13B": ModelConfig(dim=5120, n_heads=40, n_layers=40),
    "33B": ModelConfig(dim=6656, n_heads=52, n_layers=60),
    "65B": ModelConfig(dim=8192, n_heads=64, n_layers=80),
    # benchmark model: about the size where CPU timings are meaningful but quick
    "small": ModelConfig(dim=512, n_heads=8, n_layers=8, vocab_size=32000, norm_eps=1e-5),
    # the embedded default model `tiny`: seeded random weights, vocab of evalkit/assets/tiny/tokenizer.model
    "tiny": ModelConfig(dim=64, n_heads=4, n_kv_heads=2, n_layers=2, vocab_size=1024, multiple_of=32,
                        norm_eps=1e-5),  # the paper's 2048 context, so prompts truncate as they would
}


def preset(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
