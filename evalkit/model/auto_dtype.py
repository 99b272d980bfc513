"""`--dtype auto`: bf16 where the hardware multiplies it fast, fp32 elsewhere, and the reason, for results.json.

bf16 is fast where the matrix units take it natively: on the CPU, AMX tiles or the AVX512-BF16 dot
product (oneDNN then runs a bf16 matmul about 3x faster than fp32 on one core of this project's machine);
on CUDA, compute capability 8.0 or newer (Ampere, Hopper). Elsewhere auto picks fp32, never the stored
dtype: a bf16 or fp16 checkpoint on a CPU without those instructions is emulated (slower than fp32), and
fp16 on an older GPU overflows on models trained in bf16. fp32 is then both the fastest and the exact choice.

auto is opt-in (the default keeps the stored dtype), so a run's numbers do not depend on which machine
ran it unless asked: `results.json` records the request ("auto"), the dtype used and this reason.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

AUTO = "auto"


@dataclass(frozen=True)
class DtypeChoice:
    requested: str | None  # as asked: None (keep the stored dtype), "auto", "bfloat16", ...
    dtype: str | None      # what the loader gets: None keeps the stored dtype
    reason: str | None     # why auto chose it, e.g. "cpu avx512_bf16"; None unless auto was asked


def resolve_dtype(requested: str | None, device: str) -> DtypeChoice:
    """The dtype to load for `requested` on `device` ("cpu", "cuda", "cuda:N", "mps")."""
    if requested != AUTO:
        return DtypeChoice(requested, requested, None)
    fast, reason = bf16_is_fast(device)
    return DtypeChoice(AUTO, "bfloat16" if fast else "float32", reason)


def bf16_is_fast(device: str) -> tuple[bool, str]:
    """Whether `device` multiplies bf16 natively, and a few words saying what was found."""
    kind = device.split(":")[0]
    if kind == "cpu":
        for name, feature in (("_is_amx_tile_supported", "amx"), ("_is_avx512_bf16_supported", "avx512_bf16")):
            probe = getattr(torch.cpu, name, None)  # private probes (torch >= 2.3); absent means unknown
            if probe is not None and probe():
                return True, f"cpu {feature}"
        return False, f"cpu {torch.backends.cpu.get_cpu_capability().lower()}: no bf16 matrix instructions"
    if kind == "cuda":
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        fast = major >= 8 and torch.cuda.is_bf16_supported()
        return fast, f"cuda sm_{major}{minor}" + ("" if fast else ": bf16 needs compute capability 8.0")
    return False, f"{kind}: bf16 speed not probed"
