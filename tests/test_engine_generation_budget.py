"""The automatic batch size of generation: budgets derived from memory count the KV cache of forked
samples, and a prompt with more samples than a batch holds is split, with the same samples."""
from __future__ import annotations

import torch

from conftest import stories_reference
from evalkit.engine import Engine
from evalkit.engine.batching import CPU_TOKEN_BUDGET, CACHE_SCALE, MEMORY_FRACTION, BatchPolicy
from evalkit.model.config import PRESETS
from evalkit.model.footprint import Footprint
from evalkit.model.loaders import load_model
from evalkit.requests import GenerateRequest

PROMPT = stories_reference().get("prompt", "Once upon a time")


def test_memory_budget_arithmetic():
    fp = Footprint(PRESETS["7B"], 2)
    policy = BatchPolicy.from_memory_budget(60 * 10**9, fp, 2048)
    usable = int(60e9 * MEMORY_FRACTION)
    slot = 2 * 32 * 4096 * 2 + fp.activation_bytes_per_token(2048)  # a slot's K and V in every layer + activations
    assert policy.max_slots == policy.max_tokens == usable // slot
    assert policy.row_slots == -(-(24 * 32000 + 4 * 4096) // slot)
    # 256 MATH samples of a 1000-token prompt with 512 new tokens: the prefill row is counted beside them
    rows, length = policy.cache_cost(256, 1512)
    assert (rows, length) == (257, 1512 + policy.row_slots)
    assert rows * length > policy.max_slots  # does not fit one batch of 60 GB ...
    assert policy.cache_cost(1, 1512) == (1, 1512 + policy.row_slots)  # a lone sample is its prefill row
    cpu = BatchPolicy.from_setting("auto", False, torch.device("cpu"))
    assert cpu.slot_budget == CPU_TOKEN_BUDGET * CACHE_SCALE and cpu.cache_cost(256, 1512) == (256, 1512)


def test_64_samples_stay_within_a_given_memory(stories):
    """Two prompts of 64 samples each under 'auto' with 6 MB of device memory: the KV cache alive at
    once stays within it (and needs more without the limit), and the samples are those drawn unlimited."""
    requests = [GenerateRequest(PROMPT, max_new_tokens=48, temperature=1.0, n=64, seed=3),
                GenerateRequest("Lily saw a big dog", max_new_tokens=40, temperature=0.8, top_p=0.9, n=64, seed=1)]
    limited = Engine(stories, device_memory=6_000_000)
    free = Engine(stories)
    assert limited.generate(requests) == free.generate(requests)
    assert limited.stats.peak_cache_bytes <= 6_000_000 * MEMORY_FRACTION < free.stats.peak_cache_bytes
    assert limited.stats.forward_calls > free.stats.forward_calls  # more, smaller batches
    assert limited.stats.samples_generated == 128


def test_256_samples_on_cpu_split_into_batches_with_the_same_samples(stories):
    """n = 256 of 150 new tokens holds more than the CPU's slot budget: split, sample k is still sample k."""
    request = GenerateRequest(PROMPT, max_new_tokens=150, temperature=1.0, n=256, seed=5)
    engine = Engine(stories)
    texts = engine.generate([request])[0].texts
    assert len(texts) == 256 and engine.stats.peak_cache_bytes < 256 * 150 * stories.model.new_cache(1, 1).nbytes
    few = Engine(stories).generate([GenerateRequest(PROMPT, max_new_tokens=150, temperature=1.0, n=6, seed=5)])
    assert texts[:6] == few[0].texts


def test_tiny_model_footprint_engine():
    """The engine builds its memory budget from its own model's footprint."""
    engine = Engine(load_model("tiny"), device_memory=10**8)
    fp = Footprint(engine.model.cfg, 4, device="cpu")
    assert engine.policy.from_memory and engine.policy.max_slots == int(1e8 * MEMORY_FRACTION) // (
        fp.kv_bytes_per_token + fp.activation_bytes_per_token(engine.max_length))
