"""The LLaMA transformer (Touvron et al. 2023, section 2.2), written for scoring and decoding.

Pre-normalization with RMSNorm, SwiGLU feed-forward, rotary embeddings on interleaved pairs (Meta's
layout), no biases; plus grouped-query attention, tied embeddings and configurable eps / rope theta.
Parameter names match Meta's released checkpoints, so loading is a plain state-dict assignment.

Unlike Meta's reference `forward`, this returns logits at every position (scoring needs them), and
its attention mask is right for a multi-token chunk after a cached prefix and for padded rows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.key_windows import KeyWindows
from evalkit.model.kv_cache import KVCache


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x * rsqrt(mean(x^2) + eps) in fp32 as Meta does, whatever the model dtype; one fused kernel
        return F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).type_as(x) * self.weight


def rope_table(head_dim: int, theta: float, length: int, device: torch.device) -> torch.Tensor:
    """e^(i * pos * theta^(-2j/hd)) for pos < length, j < hd/2 -> (length, hd/2) complex64 (Meta's freqs_cis)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    angles = torch.outer(torch.arange(length, device=device).float(), inv_freq)
    return torch.polar(torch.ones_like(angles), angles)


def apply_rope(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (x[2i], x[2i+1]) of x (B, T, H, hd) by freqs (B, T, 1, hd/2), in fp32 as Meta does.

    As a complex product, (x[2i] + i x[2i+1]) * e^(i angle): one kernel instead of four products and a stack.
    """
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))  # (B, T, H, hd/2)
    return torch.view_as_real(pairs * freqs).flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x, freqs, attn_mask, cache: KVCache | None, layer: int) -> torch.Tensor:
        return self.wo(self.attend(self.wq(x), self.wk(x), self.wv(x), freqs, attn_mask, cache, layer))

    def together(self, x: torch.Tensor, shapes: list[tuple[int, int]], freqs: list, attn_masks: list,
                 caches: list, layer: int) -> torch.Tensor:
        """Chunks' tokens stacked, x (N, dim), N = sum of B * T over their `shapes` -> (N, dim): one product
        per weight for all, attention each chunk's own (its freqs, mask and cache)."""
        sizes = [B * T for B, T in shapes]
        parts = zip(shapes, self.wq(x).split(sizes), self.wk(x).split(sizes), self.wv(x).split(sizes), freqs,
                    attn_masks, caches)
        out = [self.attend(q.view(B, T, -1), k.view(B, T, -1), v.view(B, T, -1), f, m, c, layer).flatten(0, 1)
               for (B, T), q, k, v, f, m, c in parts]
        return self.wo(torch.cat(out))

    def attend(self, q, k, v, freqs, attn_mask, cache: KVCache | None, layer: int) -> torch.Tensor:
        """Projected q (B, T, nh*hd), k, v (B, T, KV*hd) -> attention output (B, T, nh*hd) (before wo)."""
        B, T, _ = q.shape
        q = apply_rope(q.view(B, T, self.n_heads, self.head_dim), freqs)
        k = apply_rope(k.view(B, T, self.n_kv_heads, self.head_dim), freqs)
        v = v.view(B, T, self.n_kv_heads, self.head_dim)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh, T, hd)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, KV, S, hd) with the cached prefix
        # The fused kernel never materializes the score matrix; with is_causal it skips masked blocks.
        # enable_gqa: query head h reads kv head h // (n_heads / n_kv_heads) without copying k, v.
        gqa = self.n_kv_heads != self.n_heads
        if cache is not None and cache.prefix is not None:  # samples after a shared prompt: read it once
            out = cache.prefix.attend(layer, q, k, v, attn_mask)
        elif isinstance(attn_mask, KeyWindows):  # packed rows of short trees: each query block reads its window
            out = attn_mask.attend(q, k, v, gqa)
        else:  # no mask: causal for a chunk from slot 0, none at all for one token reading every slot
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=attn_mask is None and T > 1,
                                                 enable_gqa=gqa)
        return out.transpose(1, 2).reshape(B, T, -1)  # (B, T, nh*hd)


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)  # gate
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)  # down
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)  # up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, x, freqs, attn_mask, cache, layer):
        h = x + self.attention(self.attention_norm(x), freqs, attn_mask, cache, layer)
        return h + self.feed_forward(self.ffn_norm(h))

    def together(self, xs: list[torch.Tensor], freqs: list, attn_masks: list, caches: list, layer: int
                 ) -> list[torch.Tensor]:
        """Several chunks' hidden states, each (B, T, dim) with its own freqs, mask and cache, through the
        block at once -> each one's output (B, T, dim); every weight product takes all their tokens."""
        x = torch.cat([x.flatten(0, 1) for x in xs])  # (N, dim)
        h = x + self.attention.together(self.attention_norm(x), [x.shape[:2] for x in xs], freqs, attn_masks,
                                        caches, layer)
        out = h + self.feed_forward(self.ffn_norm(h))
        return [o.view(x.shape) for o, x in zip(out.split([x.shape[0] * x.shape[1] for x in xs]), xs)]


def attention_mask(mask: torch.Tensor, cache: KVCache | None, dense: bool) -> torch.Tensor | None:
    """Boolean (B, 1, T, S) mask for a chunk after `cache.length` cached slots, or None where none is
    needed: plain causal (no cached slots), or one token per row reading every cached slot (a decoding
    step of rows without padding). `dense`: the host knows every token of the chunk is real.

    Query t (slot past+t) sees key slot s when s <= past+t and s holds a real token. Each query also
    sees itself, so a padded query never has an empty row (its output is never read). Without a mask SDPA
    may run its flash kernel (with grouped-query attention, the only fused one: a masked GQA forward runs
    the math kernel on CUDA, evalkit.model.footprint.attention_kernel).
    """
    past = 0 if cache is None else cache.length
    if dense and (past == 0 or (mask.shape[1] == 1 and not cache.padded)):
        return None  # the kernel builds the causal mask itself and skips masked blocks, or needs none
    B, T = mask.shape
    key_valid = mask if cache is None else torch.cat([cache.valid[:, :past], mask], dim=1)  # (B, S)
    q_slot = torch.arange(past, past + T, device=mask.device)[:, None]                  # (T, 1)
    k_slot = torch.arange(past + T, device=mask.device)[None, :]                        # (1, S)
    visible = (k_slot <= q_slot)[None] & key_valid[:, None, :]                          # (B, T, S)
    return (visible | (k_slot == q_slot)[None])[:, None]                                # (B, 1, T, S)


def placed(name: str, tensor: torch.Tensor, dtype: torch.dtype | None, device: torch.device | str) -> torch.Tensor:
    """A weight converted to the model's dtype and device, and its layout (a no-op when already placed)."""
    tensor = tensor.to(device=device, dtype=dtype or tensor.dtype)
    return tensor.t().contiguous().t() if column_major(name, tensor.ndim, tensor.dtype, tensor.device) else tensor


def column_major(name: str, ndim: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether a weight is kept column-major: fp32 matrices on the CPU, except the embedding (lookups want rows).
    Same values: F.linear then multiplies x by a row-major W^T (BLAS "NN", not "NT"), which MKL runs
    1.1-1.2x faster for a decoding step's few rows (fp32)."""
    return device.type == "cpu" and dtype == torch.float32 and ndim == 2 and name != "tok_embeddings.weight"


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        weight = torch.empty(cfg.vocab_size, cfg.dim)  # on the device in context: meta while a checkpoint loads
        if not weight.is_meta:  # there normal_ would only import torch._dynamo, 1-2 s of every run's start
            nn.init.normal_(weight)
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim, _weight=weight)
        self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self._rope: torch.Tensor | None = None  # rope_table, built on first use on the weights' device
        self.kv_heads = cfg.kv_heads  # per rank under tensor parallelism (evalkit/model/tensor_parallel.py)
        self.tensor_parallel = 1  # ranks the model is split over (set by tensor_parallel.parallelize)

    @property
    def dtype(self) -> torch.dtype:
        return self.tok_embeddings.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.tok_embeddings.weight.device

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        cfg = self.cfg
        return KVCache(cfg.n_layers, batch, self.kv_heads, cfg.head_dim, capacity, self.dtype, self.device)

    def hidden_states(self, tokens: torch.Tensor, mask: torch.Tensor | None = None,
                      cache: KVCache | None = None) -> torch.Tensor:
        """tokens (B, T), mask (B, T) True for real tokens -> final-normed hidden states (B, T, dim).

        With a cache, the chunk is appended after the cached slots and the cache is advanced.
        """
        return self.hidden_states_at(tokens, *self._placed(tokens, mask, cache))

    def _placed(self, tokens: torch.Tensor, mask: torch.Tensor | None, cache: KVCache | None
                ) -> tuple[torch.Tensor, torch.Tensor | None, KVCache | None, torch.Tensor | None]:
        """A chunk's rotary positions (B, T), attention mask, cache, and real-token mask (None: all real)."""
        past = 0 if cache is None else cache.length
        # all real: known on the host (no mask given), or checked where the chunk starts the cache (one
        # read-back per prefill, not per decoding step)
        dense = mask is None or (past == 0 and bool(mask.all()))
        if mask is None:
            mask = torch.ones_like(tokens, dtype=torch.bool)
        start = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device) if cache is None \
            else cache.next_pos
        positions = (start[:, None] + mask.long().cumsum(dim=1) - 1).clamp(min=0)  # (B, T)
        return positions, attention_mask(mask, cache, dense), cache, None if dense else mask

    def hidden_states_together(self, chunks: list[tuple[torch.Tensor, torch.Tensor | None, KVCache]]
                               ) -> list[torch.Tensor]:
        """Chunks (tokens (B, T), mask (B, T) or None, each its own cache) forwarded at once -> each one's
        final-normed hidden states (B, T, dim), as hidden_states gives them one by one; their tokens share
        every weight product, so the weights are read once for all (a decoding step and a joining
        prompt's prefill chunk: the chunk costs little more than the step where the step is bound by
        reading the weights)."""
        placed = [self._placed(*chunk) for chunk in chunks]  # (positions, attn_mask, cache, real) each
        freqs = [self.rope(positions, tokens.shape[1] + cache.reach)
                 for (tokens, _, _), (positions, _, cache, _) in zip(chunks, placed)]
        xs = [self.tok_embeddings(tokens) for tokens, _, _ in chunks]  # each (B, T, dim)
        for i, layer in enumerate(self.layers):
            xs = layer.together(xs, freqs, [m for _, m, _, _ in placed], [c for _, _, c, _ in placed], i)
        for (tokens, _, cache), (_, _, _, real) in zip(chunks, placed):
            cache.advance(torch.ones_like(tokens, dtype=torch.bool) if real is None else real, dense=real is None)
        return [self.norm(x) for x in xs]

    def hidden_states_at(self, tokens: torch.Tensor, positions: torch.Tensor,
                         attn_mask: torch.Tensor | KeyWindows | None, cache: KVCache | None = None,
                         real: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, T) at explicit rotary positions (B, T) -> final-normed hidden states (B, T, dim).

        attn_mask (B, 1, T, S) is True where query t may read key slot s (S = cached slots + T), or None
        for plain causal, or KeyWindows (the same mask, block-sparse). Packed scoring (engine/packing.py)
        lays many sequences in one row as a prefix tree: positions are depths and the mask lets a token
        read only its ancestors. With a cache, the chunk is appended after the cached slots and `real`
        (B, T) marks which of its slots hold tokens.
        """
        freqs = self.rope(positions, tokens.shape[1] + (0 if cache is None else cache.reach))  # depths stay below
        x = self.tok_embeddings(tokens)  # (B, T, dim)
        for i, layer in enumerate(self.layers):
            x = layer(x, freqs, attn_mask, cache, i)
        if cache is not None:
            cache.advance(torch.ones_like(tokens, dtype=torch.bool) if real is None else real, dense=real is None)
        return self.norm(x)

    def rope(self, positions: torch.Tensor, bound: int | None = None) -> torch.Tensor:
        """positions (B, T), all below `bound` -> rotations (B, T, 1, hd/2) from a table that grows past
        max_seq_len if needed. hidden_states knows a bound on the host (the slots so far), so a decoding
        step does not wait to read the positions back from the device."""
        need = bound if bound is not None else int(positions.max()) + 1 if positions.numel() else 1
        if self._rope is None or len(self._rope) < need or self._rope.device != positions.device:
            length = max(need, self.cfg.max_seq_len, 2 * len(self._rope) if self._rope is not None else 0)
            self._rope = rope_table(self.cfg.head_dim, self.cfg.rope_theta, length, positions.device)
        return self._rope[positions][:, :, None]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., dim) -> fp32 logits (..., vocab)."""
        return self.output(hidden).float()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, vocab) at every position."""
        return self.logits(self.hidden_states(tokens, mask, cache))

    def load_weights(self, state_dict: dict[str, torch.Tensor], source: str, dtype: torch.dtype | None = None,
                     device: torch.device | str = "cpu") -> None:
        """Assign a Meta-named state dict (kept as given where dtype/device match, except fp32 CPU matrices).

        The dict is consumed: its values are replaced by the converted tensors one at a time, so a
        conversion never holds two full copies of the weights. Raises CheckpointError naming `source`
        for missing or unknown keys and wrong shapes.
        """
        expected = {name: p.shape for name, p in self.named_parameters()}  # tied output appears once
        tied = self.output.weight is self.tok_embeddings.weight  # not under tensor parallelism: two slices
        if tied:
            state_dict.pop("output.weight", None)
        missing = sorted(set(expected) - set(state_dict))
        unknown = sorted(set(state_dict) - set(expected))
        if missing or unknown:
            parts = ([f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}"] if missing else []) + \
                    ([f"unknown keys {unknown[:5]}{'...' if len(unknown) > 5 else ''}"] if unknown else [])
            raise CheckpointError(f"{source}: {'; '.join(parts)}")
        for name, shape in expected.items():
            if tuple(state_dict[name].shape) != tuple(shape):
                raise CheckpointError(f"{source}: tensor {name} has shape {tuple(state_dict[name].shape)}, "
                                      f"the config implies {tuple(shape)}")
        for name, tensor in state_dict.items():
            state_dict[name] = placed(name, tensor, dtype, device)  # the original can go now
        self.load_state_dict(state_dict, strict=False, assign=True)
        if tied:
            self.output.weight = self.tok_embeddings.weight
