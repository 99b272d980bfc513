"""`--dtype auto`: resolves to bf16 exactly where this machine has native bf16 matrix instructions, and a
run records what was asked, what was used and why (results.json, the report's row label).

The expectation is read here from the CPU flags the kernel reports (/proc/cpuinfo), not from the probe
under test, so the test holds on any x86 machine: bf16 on one with AMX or AVX512-BF16, fp32 elsewhere.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evalkit.backends import hf, llama
from evalkit.backends.base import BackendOptions
from evalkit.model.auto_dtype import resolve_dtype
from tests.conftest import REPO

CPUINFO = Path("/proc/cpuinfo")


def cpu_flags() -> set[str]:
    for line in CPUINFO.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


needs_cpuinfo = pytest.mark.skipif(not CPUINFO.is_file() or not cpu_flags(), reason="no x86 /proc/cpuinfo flags")


def expected_cpu_choice() -> tuple[str, str | None]:
    """(dtype, feature) that auto must pick on this CPU, from the kernel's flags."""
    flags = cpu_flags()
    if "amx_bf16" in flags and "amx_tile" in flags:
        return "bfloat16", "amx"
    if "avx512_bf16" in flags:
        return "bfloat16", "avx512_bf16"
    return "float32", None


def test_explicit_and_default_dtypes_pass_through():
    assert resolve_dtype(None, "cpu").dtype is None             # the default keeps the stored dtype
    choice = resolve_dtype("bfloat16", "cpu")
    assert (choice.requested, choice.dtype, choice.reason) == ("bfloat16", "bfloat16", None)


@needs_cpuinfo
def test_auto_follows_the_cpu_flags():
    dtype, feature = expected_cpu_choice()
    choice = resolve_dtype("auto", "cpu")
    assert (choice.requested, choice.dtype) == ("auto", dtype)
    assert choice.reason.startswith("cpu ")
    if feature:
        assert choice.reason == f"cpu {feature}"
    else:
        assert "no bf16" in choice.reason


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_auto_on_cuda_follows_compute_capability():
    major, _ = torch.cuda.get_device_capability(0)
    choice = resolve_dtype("auto", "cuda:0")
    assert choice.dtype == ("bfloat16" if major >= 8 else "float32") and choice.reason.startswith("cuda sm_")


@needs_cpuinfo
def test_run_records_requested_resolved_and_reason(tmp_path):
    dtype, feature = expected_cpu_choice()
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--tasks", "piqa",
                           "--examples", "--limit", "3", "--dtype", "auto", "--no-progress",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["run"]["dtype"] == "auto"
    assert result["model"]["dtype"] == dtype
    reason = result["model"]["dtype_auto"]
    assert reason == f"cpu {feature}" if feature else "no bf16" in reason
    assert f"{dtype} via auto on {reason}" in (tmp_path / "report.md").read_text()


@needs_cpuinfo
def test_llama_backend_without_auto_records_no_reason():
    info = llama.load(BackendOptions(model="tiny", dtype="float32")).describe()
    assert info["dtype"] == "float32" and "dtype_auto" not in info


@needs_cpuinfo
def test_hf_backend_resolves_auto(tmp_path):
    transformers = pytest.importorskip("transformers")
    from tests.test_backend_hf import add_tokenizer
    config = transformers.LlamaConfig(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=4, max_position_embeddings=64, bos_token_id=1,
                                      eos_token_id=2)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path)
    add_tokenizer(tmp_path)
    dtype, _ = expected_cpu_choice()
    info = hf.load(BackendOptions(model=str(tmp_path), dtype="auto")).describe()
    assert info["dtype"] == dtype and info["dtype_auto"] == resolve_dtype("auto", "cpu").reason
