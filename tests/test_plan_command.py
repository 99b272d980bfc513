"""`run_eval.py plan`: the paper's parameter counts, footprints that match the real model's tensors, the
smallest tensor-parallel degree, configs read from each checkpoint format, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from evalkit.model.config import PRESETS
from evalkit.model.footprint import Footprint, param_count, paper_count, valid_tp
from evalkit.model.llama import Transformer
from evalkit.model.memory_plan import parse_size, plan_memory
from tests.conftest import REPO, STORIES_BIN, needs_stories


def plan(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", "plan", *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name, paper", [("7B", "6.7B"), ("13B", "13.0B"), ("33B", "32.5B"), ("65B", "65.2B")])
def test_presets_have_the_papers_parameter_counts(name, paper):
    assert paper_count(param_count(PRESETS[name])) == paper


def test_cli_prints_the_papers_count_in_json():
    done = plan("--model", "33B", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["params_paper"] == "32.5B"


@pytest.mark.parametrize("cfg", [PRESETS["tiny"], PRESETS["small"], PRESETS["tiny"].with_(tie_embeddings=True)])
def test_counts_and_kv_bytes_match_the_model(cfg):
    with torch.device("meta"):
        model = Transformer(cfg)
    assert param_count(cfg) == sum(p.numel() for p in model.parameters())
    fp = Footprint(cfg, 2)
    assert fp.weight_bytes == param_count(cfg) * 2
    cache = model.new_cache(1, 10)
    assert fp.kv_bytes_per_token * 10 == (cache.k.numel() + cache.v.numel()) * 2  # 10 slots of 2-byte elements


def test_tensor_parallel_slices_add_up():
    cfg = PRESETS["65B"]
    whole = Footprint(cfg, 2).weight_bytes
    norms = (2 * cfg.n_layers + 1) * cfg.dim * 2
    for t in (2, 4, 8):
        fp = Footprint(cfg, 2, t)
        assert fp.weight_bytes * t - (t - 1) * norms == whole  # split evenly, norms replicated
        assert fp.kv_bytes_per_token * t == Footprint(cfg, 2).kv_bytes_per_token
    gqa = PRESETS["tiny"]  # 4 heads, 2 KV heads: 4 ranks keep one KV head each
    assert [t for t in (1, 2, 4, 8) if valid_tp(gqa, t)] == [1, 2, 4]
    assert Footprint(gqa, 2, 4).kv_bytes_per_token == Footprint(gqa, 2, 2).kv_bytes_per_token


def test_65b_on_80gb_devices_needs_two_ranks():
    done = plan("--model", "65B", "--device-memory", "80GB")
    assert done.returncode == 0, done.stderr
    assert "65.2B parameters" in done.stdout
    assert "torchrun --nproc_per_node 2 run_eval.py run --model 65B --dtype bfloat16" in done.stdout  # as run takes it
    assert "--tensor-parallel 2" in done.stdout
    one = plan_memory(PRESETS["65B"], 2, "bf16", parse_size("80GB"), None)
    assert [r.fits for r in one.ranks] == [False, True, True, True] and one.chosen.tp == 2


def test_the_batch_decides():
    cfg = PRESETS["7B"]
    small = plan_memory(cfg, 2, "bf16", parse_size("24GB"), 2048)
    large = plan_memory(cfg, 2, "bf16", parse_size("24GB"), 2048 * 64)
    assert small.chosen.tp == 1 and large.chosen.tp > 1
    assert large.ranks[0].kv_cache == 64 * small.ranks[0].kv_cache == 64 * 2048 * 2 * 32 * 4096 * 2


def test_sizes():
    assert parse_size("80GB") == 80 * 10**9 and parse_size("80GiB") == 80 * 2**30 and parse_size("141 gb") == 141e9
    assert parse_size("24000MB") == 24 * 10**9


@needs_stories
def test_reads_each_format_without_weights(tmp_path, stories):
    from tests.test_loaders_hf import make_hf_model, save
    from evalkit.model.loaders import load_model
    from tests.test_loaders_meta import write_meta

    llama2c = json.loads(plan("--model", str(STORIES_BIN), "--dtype", "fp32", "--json").stdout)
    assert llama2c["params"] == sum(p.numel() for p in stories.model.parameters())
    assert llama2c["config"]["n_kv_heads"] == 4 and llama2c["kv_bytes_per_token"] == 2 * 5 * 4 * 8 * 4
    folder = write_meta(tmp_path / "meta", stories, 2)
    meta = json.loads(plan("--model", str(folder), "--json").stdout)
    assert meta["params"] == sum(p.numel() for p in load_model(str(folder)).model.parameters())
    hf = save(make_hf_model(), tmp_path / "hf")
    for weights in hf.glob("*.safetensors"):
        weights.write_bytes(b"")  # never read
    done = plan("--model", str(hf), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config"]["ffn_dim"] == 96


@pytest.mark.parametrize("flags, says", [
    (["--model", "65B", "--device-memory", "8GB"], "needs"),
    (["--model", "65B", "--device-memory", "lots"], "device memory"),
    (["--model", "no/such/folder"], "no such file"),
    (["--model", "7B", "--samples", "0"], "--samples"),
])
def test_errors_are_one_line(flags, says):
    done = plan(*flags)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr


def test_memory_plan_counts_the_math_kernel_of_masked_grouped_query_attention():
    """CUDA's memory-efficient kernel does not take enable_gqa: a masked GQA forward (packed scoring rows)
    falls to the math kernel, whose fp32 score matrix the activations then count; MHA and the CPU do not."""
    from evalkit.model.config import ModelConfig
    from evalkit.model.footprint import attention_kernel
    gqa = ModelConfig(dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, vocab_size=32000, hidden_dim=28672)
    mha = ModelConfig(dim=8192, n_layers=80, n_heads=64, vocab_size=32000, hidden_dim=28672)
    assert Footprint(gqa, 2).masked_kernel == "math" and Footprint(mha, 2).masked_kernel == "memory-efficient"
    assert Footprint(gqa, 2, device="cpu").masked_kernel == "flash"
    extra = Footprint(gqa, 2).activation_bytes_per_token(2048) - Footprint(gqa, 2, device="cpu").activation_bytes_per_token(2048)
    assert extra == 8 * 64 * 2048 + 2 * 64 * 128 * 4  # fp32 scores and probabilities, K and V repeated
    assert Footprint(gqa, 2, 8).activation_bytes_per_token(2048) < Footprint(gqa, 2).activation_bytes_per_token(2048)
    assert attention_kernel("cuda", True, False) == "flash"  # no mask: flash takes grouped queries


def test_cpu_attention_kernel_is_the_one_torch_dispatches_to():
    from evalkit.model.footprint import attention_kernel
    q, k = torch.randn(1, 8, 16, 32), torch.randn(1, 2, 16, 32)
    mask = torch.ones(1, 1, 16, 16, dtype=torch.bool).tril()
    chosen = torch.nn.attention.SDPBackend(torch._fused_sdp_choice(q, k, k, mask, 0.0, False, enable_gqa=True))
    assert chosen.name.lower().startswith(attention_kernel("cpu", True, True))
