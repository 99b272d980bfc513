"""Hugging Face checkpoints: logits equal transformers' LlamaForCausalLM (safetensors, sharded, .bin)."""
from __future__ import annotations

import shutil

import pytest
import torch

from evalkit.model.loaders import load_model
from tests.conftest import STORIES_DIR, needs_stories

pytestmark = needs_stories  # reads ../shared

transformers = pytest.importorskip("transformers")


def make_hf_model(seed: int = 0, tie: bool = False):
    """A random GQA Llama with vocab 512 (tok512). A large init makes attention far from uniform, so
    a wrong rotary permutation changes the logits visibly."""
    config = transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
        num_key_value_heads=2, rms_norm_eps=1e-5, tie_word_embeddings=tie, initializer_range=0.2,
        max_position_embeddings=256, rope_theta=500.0)
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config).eval()


def save(model, folder, **kwargs):
    model.save_pretrained(folder, **kwargs)
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    return folder


@pytest.fixture(scope="module")
def reference():
    return make_hf_model()


@pytest.fixture(scope="module")
def batch():
    """Left-padded (B, T) tokens with mask and explicit positions, as generate() would give them."""
    torch.manual_seed(1)
    lengths = [12, 7, 3]
    tokens = torch.randint(3, 512, (3, 12))
    mask = torch.arange(12)[None, :] >= 12 - torch.tensor(lengths)[:, None]
    return tokens.masked_fill(~mask, 0), mask


def hf_logits(model, tokens, mask):
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    with torch.inference_mode():
        return model(input_ids=tokens, attention_mask=mask.long(), position_ids=positions).logits


def assert_same_logits(folder, reference, batch):
    tokens, mask = batch
    loaded = load_model(str(folder))
    assert loaded.format == "hf"
    with torch.inference_mode():
        ours = loaded.model(tokens, mask)
    theirs = hf_logits(reference, tokens, mask)
    assert ours[mask].abs().max() > 1.0  # the comparison is not between near-zero numbers
    assert (ours[mask] - theirs[mask]).abs().max() < 1e-4


def test_safetensors(tmp_path, reference, batch):
    assert_same_logits(save(reference, tmp_path), reference, batch)


def test_sharded_safetensors(tmp_path, reference, batch):
    folder = save(reference, tmp_path, max_shard_size="100KB")
    assert (folder / "model.safetensors.index.json").is_file()
    assert len(list(folder.glob("model-*.safetensors"))) > 1
    assert_same_logits(folder, reference, batch)


def test_pytorch_bin(tmp_path, reference, batch):
    folder = save(reference, tmp_path)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    assert_same_logits(folder, reference, batch)


def test_tied_embeddings(tmp_path, batch):
    tied = make_hf_model(seed=2, tie=True)
    folder = save(tied, tmp_path)
    assert load_model(str(folder)).config.tie_embeddings
    assert_same_logits(folder, tied, batch)
