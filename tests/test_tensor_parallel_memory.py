"""Each tensor-parallel rank reads only its slice: its peak resident memory while loading a ~140 MB random
model (as 2 Meta shards, and as one HF safetensors file read by slices) is about half the model's at T = 2,
while one process loading the whole model peaks above the model's size."""
from __future__ import annotations

import torch

from evalkit.model.config import ModelConfig
from tests.conftest import needs_stories
from tests.tp_checkpoints import random_weights, write_hf, write_meta
from tests.tp_ranks import run_ranks

pytestmark = needs_stories  # tok512 from ../shared

# 3 layers of dim 1024 with a 2816-wide FFN (GQA, 4 KV heads): 36M parameters, 144 MB in fp32
CFG = ModelConfig(dim=1024, n_heads=8, n_kv_heads=4, n_layers=3, vocab_size=512, norm_eps=1e-5)
MB = 1 << 20


def status(key: str) -> int:
    """A /proc/self/status field in bytes (VmRSS: resident now; VmHWM: the peak since the last reset)."""
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def loading_peaks(tp, folders: list[str]) -> list[int]:
    """Bytes the peak resident memory rose by while loading each folder (the peak reset before each). The
    embedded tiny model is loaded first, so that imports are not counted, and every model is kept, so that
    none is loaded into memory another one freed."""
    from evalkit.model.loaders import load_model
    kept, peaks = [load_model("tiny", tp=tp)], []
    for folder in folders:
        open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
        before = status("VmRSS")
        kept.append(load_model(folder, tp=tp))
        peaks.append(status("VmHWM") - before)
    return peaks


def test_each_rank_holds_about_half_the_model_while_loading(tmp_path):
    weights = random_weights(CFG, scale=1.0)
    size = sum(t.numel() * t.element_size() for t in weights.values())
    folders = [str(write_meta(tmp_path / "meta", CFG, weights, n_shards=2)), str(write_hf(tmp_path / "hf", CFG, weights))]
    del weights
    assert 130 * MB < size < 160 * MB
    ranks = run_ranks(2, loading_peaks, folders)
    whole = run_ranks(1, loading_peaks, folders)[0]  # the same loader, one rank: the whole model
    for peaks in ranks:
        for peak in peaks:
            assert peak < 0.5 * size * 1.2 + 8 * MB, (peaks, size)  # half, with one tensor's worth of slack
    for peak in whole:
        assert peak > 0.95 * size, (whole, size)
