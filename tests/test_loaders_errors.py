"""Corrupt, missing or mismatched checkpoint files raise CheckpointError naming the file."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from evalkit.errors import CheckpointError
from evalkit.model.loaders import load_model
from tests.conftest import STORIES_BIN, needs_stories
from tests.test_loaders_hf import make_hf_model, save
from tests.test_loaders_meta import write_meta

pytestmark = needs_stories  # reads ../shared


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    return save(make_hf_model(), tmp_path_factory.mktemp("hf"))


@pytest.fixture
def hf_copy(tmp_path, hf_folder):
    return shutil.copytree(hf_folder, tmp_path / "hf")


@pytest.fixture
def meta_folder(tmp_path, stories):
    return write_meta(tmp_path / "meta", stories, 2)


def raises_naming(path, spec):
    with pytest.raises(CheckpointError, match=str(path).replace(".", r"\.")) as info:
        load_model(str(spec))
    assert "\n" not in str(info.value)
    return str(info.value)


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def test_truncated_pytorch_bin(hf_copy):
    torch.save(make_hf_model().state_dict(), hf_copy / "pytorch_model.bin")
    (hf_copy / "model.safetensors").unlink()
    truncate(hf_copy / "pytorch_model.bin")
    raises_naming(hf_copy / "pytorch_model.bin", hf_copy)


def test_truncated_safetensors(hf_copy):
    truncate(hf_copy / "model.safetensors")
    raises_naming(hf_copy / "model.safetensors", hf_copy)


def test_truncated_llama2c_bin(tmp_path):
    path = tmp_path / "stories.bin"
    path.write_bytes(STORIES_BIN.read_bytes()[:100_000])
    shutil.copy(STORIES_BIN.parent / "tok512.model", tmp_path)
    assert "truncated" in raises_naming(path, path)


def test_truncated_meta_shard(meta_folder):
    truncate(meta_folder / "consolidated.01.pth")
    raises_naming(meta_folder / "consolidated.01.pth", meta_folder)


@pytest.mark.parametrize("kind", ["hf", "meta"])
def test_missing_tokenizer(kind, hf_copy, meta_folder):
    folder = hf_copy if kind == "hf" else meta_folder
    (folder / "tokenizer.model").unlink()
    assert "tokenizer" in raises_naming(folder, folder)


def test_corrupt_tokenizer(hf_copy):
    (hf_copy / "tokenizer.model").write_bytes(b"not a protobuf")
    raises_naming(hf_copy / "tokenizer.model", hf_copy)


def test_missing_meta_shard_in_the_middle(tmp_path, stories):
    folder = write_meta(tmp_path / "meta", stories, 4)
    (folder / "consolidated.02.pth").unlink()
    raises_naming(folder / "consolidated.02.pth", folder)


def test_missing_last_meta_shard(meta_folder):
    (meta_folder / "consolidated.01.pth").unlink()
    assert "shard" in raises_naming(meta_folder / "consolidated.00.pth", meta_folder)


def test_missing_hf_shard(tmp_path):
    folder = save(make_hf_model(), tmp_path / "hf", max_shard_size="100KB")
    victim = sorted(folder.glob("model-*.safetensors"))[1]
    victim.unlink()
    raises_naming(victim, folder)


@pytest.mark.parametrize("content, words", [("{not json", "JSON"), ('{"dim": 64}', "n_layers"),
                                            ('{"dim": 64, "n_layers": 5, "n_heads": 7}', "implausible")])
def test_bad_params_json(meta_folder, content, words):
    (meta_folder / "params.json").write_text(content)
    assert words in raises_naming(meta_folder / "params.json", meta_folder)


def test_bad_config_json(hf_copy):
    config = json.loads((hf_copy / "config.json").read_text())
    del config["hidden_size"]
    (hf_copy / "config.json").write_text(json.dumps(config))
    assert "hidden_size" in raises_naming(hf_copy / "config.json", hf_copy)


def test_wrong_shapes(hf_copy):
    config = json.loads((hf_copy / "config.json").read_text())
    (hf_copy / "config.json").write_text(json.dumps({**config, "intermediate_size": 128}))
    assert "shape" in raises_naming(hf_copy, hf_copy)


def test_unknown_hf_tensor(hf_copy):
    from safetensors.torch import load_file, save_file
    tensors = load_file(hf_copy / "model.safetensors")
    save_file({**tensors, "model.layers.0.self_attn.q_norm.weight": torch.ones(8)}, hf_copy / "model.safetensors")
    assert "q_norm" in raises_naming(hf_copy / "model.safetensors", hf_copy)


def test_unknown_meta_key(meta_folder):
    shard = torch.load(meta_folder / "consolidated.00.pth")
    shard["layers.0.attention.bias"] = torch.zeros(2)
    torch.save(shard, meta_folder / "consolidated.00.pth")
    raises_naming(meta_folder / "consolidated.01.pth", meta_folder)  # the shards no longer agree


def test_tokenizer_vocab_mismatch(meta_folder):
    (meta_folder / "params.json").write_text(json.dumps({**json.loads((meta_folder / "params.json").read_text()),
                                                         "vocab_size": 1000}))
    raises_naming(meta_folder / "tokenizer.model", meta_folder)


def test_unrecognised_folder(tmp_path):
    assert "not a recognised checkpoint" in raises_naming(tmp_path, tmp_path)
