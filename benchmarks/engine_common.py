"""Shared pieces of the engine benchmarks: the "small" preset with random weights, a token-level
tokenizer, the same weights in transformers' LlamaForCausalLM, and timing.

The workloads are built directly in token ids: the stories tokenizer has 512 tokens while the small
preset has a 32000-token vocabulary, so text would only exercise 1.6% of it. `IdTokenizer` reads and
writes text as space-separated ids ("17 4093 220"), which gives exact control of every length and
lets the engine run its ordinary text path. Both sides see the same ids and the same weights.
"""
from __future__ import annotations

import random
import time
from contextlib import contextmanager

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from evalkit.model.config import preset
from evalkit.model.llama import Transformer
from evalkit.model.loaders import LoadedModel

BOS = 1
THREADS_HELP = ("torch threads for both sides (default 1: on a small shared machine, 2 threads that wait "
                "for each other are slower than one, and make timings noisy)")


class IdTokenizer:
    """Text is space-separated token ids; no EOS, so every generation runs to max_new_tokens."""
    bos_id, eos_id = BOS, -1

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        return ([BOS] if bos else []) + [int(t) for t in text.split()]

    def decode(self, ids: list[int]) -> str:
        return " ".join(str(i) for i in ids if i != BOS)


def small_model(seed: int = 0) -> LoadedModel:
    torch.manual_seed(seed)
    cfg = preset("small")
    model = Transformer(cfg).eval()
    return LoadedModel(model, IdTokenizer(cfg.vocab_size), "small", "random", f"small-random-{seed}")


def random_text(rng: random.Random, n: int, vocab: int = 32000) -> str:
    """n random token ids (avoiding the special ids 0-2) as text; a leading space joins it to a context."""
    return " " + " ".join(str(rng.randrange(3, vocab)) for _ in range(n))


def _hf_rope_order(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Meta's interleaved rotary pairs -> HF's halves (convert_llama_weights_to_hf's permute)."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def to_transformers(model: Transformer) -> LlamaForCausalLM:
    """The same weights in transformers' LlamaForCausalLM (the lm-evaluation-harness HF backend's model)."""
    cfg = model.cfg
    hf = LlamaForCausalLM(LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.kv_heads,
        rms_norm_eps=cfg.norm_eps, max_position_embeddings=cfg.max_seq_len, tie_word_embeddings=False,
        bos_token_id=BOS, eos_token_id=None, pad_token_id=0, attn_implementation="sdpa")).eval()
    sd = {"model.embed_tokens.weight": model.tok_embeddings.weight, "model.norm.weight": model.norm.weight,
          "lm_head.weight": model.output.weight}
    for i, layer in enumerate(model.layers):
        p, a, f = f"model.layers.{i}.", layer.attention, layer.feed_forward
        sd |= {p + "self_attn.q_proj.weight": _hf_rope_order(a.wq.weight, cfg.n_heads),
               p + "self_attn.k_proj.weight": _hf_rope_order(a.wk.weight, cfg.kv_heads),
               p + "self_attn.v_proj.weight": a.wv.weight, p + "self_attn.o_proj.weight": a.wo.weight,
               p + "mlp.gate_proj.weight": f.w1.weight, p + "mlp.up_proj.weight": f.w3.weight,
               p + "mlp.down_proj.weight": f.w2.weight,
               p + "input_layernorm.weight": layer.attention_norm.weight,
               p + "post_attention_layernorm.weight": layer.ffn_norm.weight}
    hf.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=True)
    with torch.inference_mode():  # same weights, same function: check before timing anything
        ids = torch.randint(3, cfg.vocab_size, (1, 24))
        ours, theirs = model(ids), hf(ids).logits
        assert torch.allclose(ours, theirs, atol=1e-3), float((ours - theirs).abs().max())
    return hf


@contextmanager
def timed(out: dict, key: str):
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def report(title: str, rows: list[tuple[str, float, float]]) -> None:
    """rows: (measure, baseline, engine); prints each with the baseline/engine ratio."""
    print(title)
    for name, base, ours in rows:
        print(f"  {name:<24} baseline {base:>12,.2f}   engine {ours:>12,.2f}   ratio {base / ours:6.2f}x")
