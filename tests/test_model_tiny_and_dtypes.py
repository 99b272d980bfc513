"""The embedded `tiny` model (deterministic, bundled tokenizer) and bf16/fp16 loading on the CPU."""
from __future__ import annotations

import hashlib

import pytest
import torch

from evalkit.errors import CheckpointError
from evalkit.model.loaders import load_model
from evalkit.model.loaders.tiny import TOKENIZER
from tests.conftest import STORIES_BIN, needs_stories, stories_reference

REFERENCE = stories_reference()

PINNED = "a6ce32612c2b6379"  # sha256 prefix of the tiny weights (torch.Generator, seed 1234)


def test_tiny_is_deterministic_and_uses_its_tokenizer():
    a, b = load_model("tiny"), load_model("tiny")
    assert a.format == "tiny" and a.config.vocab_size == a.tokenizer.vocab_size == 1024
    assert a.tokenizer.path == TOKENIZER and a.fingerprint == b.fingerprint
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name
    norm, matrix = a.model.norm.weight, a.model.layers[0].attention.wq.weight
    assert torch.equal(norm, torch.ones_like(norm)) and abs(matrix.std().item() - 0.02) < 0.002


def test_tiny_weights_are_pinned():
    """The seeded weights must not drift (a CI run's golden scores depend on them)."""
    sd = load_model("tiny").model.state_dict()
    digest = hashlib.sha256(b"".join(sd[k].numpy().tobytes() for k in sorted(sd))).hexdigest()[:16]
    assert digest == PINNED


def test_tiny_tokenizer_settings():
    tok = load_model("tiny").tokenizer
    assert (tok.bos_id, tok.eos_id, tok.sp.IdToPiece(3), tok.sp.IdToPiece(0)) == (1, 2, "<0x00>", "<unk>")
    assert [tok.sp.IdToPiece(i) for i in tok.encode("2023")] == ["▁", "2", "0", "2", "3"]  # digits split
    assert tok.decode(tok.encode("naïve 日本 ok")) == "naïve 日本 ok"                 # byte fallback


@needs_stories
@pytest.mark.parametrize("dtype, torch_dtype, tol", [("bf16", torch.bfloat16, 0.5), ("fp16", torch.float16, 0.05),
                                                     ("float32", torch.float32, 1e-4)])
def test_stories_in_each_dtype(dtype, torch_dtype, tol):
    loaded = load_model(str(STORIES_BIN), dtype=dtype)
    assert loaded.model.dtype == torch_dtype
    expected = torch.tensor(REFERENCE["prompt_logits_float32"]["values"])
    with torch.inference_mode():
        logits = loaded.model(torch.tensor([REFERENCE["prompt_ids_with_bos"]]))[0]
    assert logits.dtype == torch.float32  # logits are returned in fp32 for scoring
    assert (logits - expected).abs().max() < tol
    assert torch.equal(logits.argmax(-1), expected.argmax(-1))


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_tiny_decodes_in_low_precision(dtype):
    model = load_model("tiny", dtype=dtype).model
    cache = model.new_cache(2, 8)
    with torch.inference_mode():
        model(torch.tensor([[1, 5, 6], [1, 7, 8]]), cache=cache)
        out = model(torch.tensor([[9], [10]]), cache=cache)
    assert cache.k.dtype == model.dtype and torch.isfinite(out).all()


def test_unknown_dtype():
    with pytest.raises(CheckpointError, match="int8"):
        load_model("tiny", dtype="int8")


def test_fp32_cpu_matrices_are_column_major_with_the_same_values():
    model = load_model("tiny").model
    wq = model.layers[0].attention.wq.weight
    assert wq.t().is_contiguous() and model.tok_embeddings.weight.is_contiguous()  # rows for lookups
    reference = load_model("tiny", dtype="bf16").model.layers[0].attention.wq.weight
    assert reference.is_contiguous() and torch.equal(wq.to(torch.bfloat16), reference)
