"""Memory planning: does a model fit devices of a given size, and on how many tensor-parallel ranks.

For each T in 1, 2, 4, 8 that splits the model as Meta's shards do, one rank needs its slice of the
weights, the KV cache of a batch of `batch_tokens` slots, and the activations of the batch's largest
forward: its prefill, which forwards each distinct prompt once (batch_tokens / samples tokens: the
samples of a prompt share its prefill and are forked from it), and then its decoding rows (one per
full window of slots), each holding its logits and the sampler's temporaries. With one sample this is
a scoring batch of batch_tokens tokens. The activations count the attention kernel that CUDA runs
for a masked forward (`attention`; with grouped-query attention that is the math kernel, whose score matrix
is counted). See evalkit.model.footprint for each figure's formula. It fits when that total stays under the
device's memory less HEADROOM. The smallest T that fits is the plan; what is left on a rank after the
weights is what the engine's automatic batch size spends (see evalkit.engine.batching).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from evalkit.errors import UsageError
from evalkit.model.config import ModelConfig
from evalkit.model.footprint import Footprint, param_count, valid_tp

TP_DEGREES = (1, 2, 4, 8)  # Meta's 7B-65B ship as 1, 2, 4 and 8 model-parallel shards
HEADROOM = 0.10            # of device memory left free: CUDA context, allocator fragmentation, NCCL buffers
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "k": 10**3, "m": 10**6, "g": 10**9,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str, what: str = "device memory") -> int:
    """'80GB' -> 80e9 bytes (SI units: GB = 10^9), '80GiB' -> 80 x 2^30, '141 GB', '8e10'."""
    match = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in UNITS:
        raise UsageError(f"{what} {text!r}: expected a size such as 80GB, 80GiB or 24000MB")
    size = int(float(match.group(1)) * UNITS[match.group(2)])
    if size <= 0:
        raise UsageError(f"{what} {text!r}: must be positive")
    return size


@dataclass
class RankPlan:
    tp: int
    weights: int       # bytes of one rank's slice
    kv_cache: int      # the batch's KV cache on one rank
    activations: int   # one forward of the batch's tokens on one rank
    usable: int        # device memory less HEADROOM
    kv_bytes_per_token: int

    @property
    def spare_slots(self) -> int:
        """KV-cache slots that the memory left after the weights holds (what batches may spend)."""
        return max(0, self.usable - self.weights) // self.kv_bytes_per_token

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    @property
    def fits(self) -> bool:
        return self.total <= self.usable


@dataclass
class MemoryPlan:
    cfg: ModelConfig
    params: int
    dtype: str
    device_memory: int
    batch_tokens: int
    samples: int
    kv_bytes_per_token: int                    # one rank of T = 1
    attention: str                             # SDPA kernel of a masked forward on CUDA (footprint.attention_kernel)
    ranks: list[RankPlan] = field(default_factory=list)

    @property
    def chosen(self) -> RankPlan | None:
        """The smallest T that fits (None: not even 8 ranks)."""
        return next((r for r in self.ranks if r.fits), None)


def plan_memory(cfg: ModelConfig, dtype_bytes: int, dtype: str, device_memory: int, batch_tokens: int | None,
                samples: int = 1) -> MemoryPlan:
    """Every valid T's per-rank needs for a batch of `batch_tokens` slots (default: `samples` full windows)."""
    if samples < 1:
        raise UsageError(f"--samples must be at least 1, not {samples}")
    tokens = batch_tokens if batch_tokens is not None else samples * cfg.max_seq_len
    if tokens < 1:
        raise UsageError(f"--max-batch-tokens must be at least 1, not {tokens}")
    usable = int(device_memory * (1 - HEADROOM))
    plan = MemoryPlan(cfg, param_count(cfg), dtype, device_memory, tokens, samples,
                      Footprint(cfg, dtype_bytes).kv_bytes_per_token, Footprint(cfg, dtype_bytes).masked_kernel)
    for t in TP_DEGREES:
        if not valid_tp(cfg, t):
            continue
        fp = Footprint(cfg, dtype_bytes, t)
        prefill = max(1, tokens // samples)
        rows = max(1, tokens // cfg.max_seq_len)
        activations = prefill * fp.activation_bytes_per_token(min(prefill, cfg.max_seq_len)) + rows * fp.decode_row_bytes
        plan.ranks.append(RankPlan(t, fp.weight_bytes, tokens * fp.kv_bytes_per_token, activations, usable,
                                   fp.kv_bytes_per_token))
    return plan
