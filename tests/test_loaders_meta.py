"""Meta's release format: stories260K written as consolidated.00.pth, and as model-parallel shards."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from evalkit.model.loaders import load_model
from tests.conftest import STORIES_DIR, stories_reference

REFERENCE = stories_reference()

# stories260K in LLaMA-1 terms: ffn 172 = multiple_of 4 * ceil(int(2 * 4 * 64 / 3) / 4); vocab from the tokenizer
PARAMS = {"dim": 64, "multiple_of": 4, "n_heads": 8, "n_kv_heads": 4, "n_layers": 5, "norm_eps": 1e-5,
          "vocab_size": -1}


def meta_state_dict(stories) -> dict[str, torch.Tensor]:
    """stories260K's weights under Meta's names, untied as Meta stores them, with LLaMA-1's rope.freqs."""
    sd = {k: v.clone() for k, v in stories.model.state_dict().items()}
    sd["output.weight"] = sd["tok_embeddings.weight"].clone()
    sd["rope.freqs"] = torch.ones(4)
    return sd


def split_like_meta(sd: dict[str, torch.Tensor], n: int) -> list[dict[str, torch.Tensor]]:
    """fairscale's split: column-parallel out features, row-parallel in features, embedding dim."""
    def dim_of(name: str) -> int | None:
        if name == "tok_embeddings.weight" or name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
            return 1
        if name == "output.weight" or name.endswith(("wq.weight", "wk.weight", "wv.weight", "w1.weight", "w3.weight")):
            return 0
        return None  # norms and rope.freqs are replicated

    shards = [{} for _ in range(n)]
    for name, tensor in sd.items():
        dim = dim_of(name)
        parts = [tensor] * n if dim is None else tensor.chunk(n, dim=dim)
        for shard, part in zip(shards, parts):
            shard[name] = part.clone()  # clone: save only the slice, not the whole storage
    return shards


def write_meta(folder, stories, n_shards: int, params=PARAMS):
    folder.mkdir(exist_ok=True)
    (folder / "params.json").write_text(json.dumps(params))
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    for i, shard in enumerate(split_like_meta(meta_state_dict(stories), n_shards)):
        torch.save(shard, folder / f"consolidated.{i:02d}.pth")
    return folder


def prompt_logits(folder) -> torch.Tensor:
    loaded = load_model(str(folder))
    assert loaded.format == "meta" and loaded.config.vocab_size == 512
    with torch.inference_mode():
        return loaded.model(torch.tensor([REFERENCE["prompt_ids_with_bos"]]))[0]


@pytest.mark.parametrize("n_shards", [1, 2, 4])
def test_shards_load_to_the_reference_logits(tmp_path, stories, n_shards):
    expected = torch.tensor(REFERENCE["prompt_logits_float32"]["values"])
    logits = prompt_logits(write_meta(tmp_path / "meta", stories, n_shards))
    assert (logits - expected).abs().max() < 1e-4


def test_two_shards_equal_one_exactly(tmp_path, stories):
    one = prompt_logits(write_meta(tmp_path / "one", stories, 1))
    two = prompt_logits(write_meta(tmp_path / "two", stories, 2))
    assert torch.equal(one, two)


def test_llama2_fields(tmp_path, stories):
    """Llama 2's params.json: explicit vocab_size, rope_theta; a wrong theta must change the logits."""
    base = prompt_logits(write_meta(tmp_path / "a", stories, 1))
    other = prompt_logits(write_meta(tmp_path / "b", stories, 1, {**PARAMS, "vocab_size": 512, "rope_theta": 50.0}))
    assert not torch.allclose(base[1:], other[1:], atol=1e-3)


def test_llama1_layout_tokenizer_one_level_up(tmp_path, stories):
    """LLaMA-1's release: llama/tokenizer.model shared by llama/7B, llama/13B, ..."""
    folder = write_meta(tmp_path / "7B", stories, 1)
    (folder / "tokenizer.model").rename(tmp_path / "tokenizer.model")
    loaded = load_model(str(folder))
    assert loaded.tokenizer.path == tmp_path / "tokenizer.model"
