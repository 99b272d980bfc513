"""Tensor parallelism over gloo on CPU equals one process: per-choice log-likelihoods within 1e-4, the same
greedy and sampled texts, identical on every rank; on stories260K (GQA, 4 KV heads), on a random model
written as 2 Meta shards (read directly at T = 2, re-sliced across the shard boundary at T = 3) and as HF
safetensors (rotary permutation undone per slice); at T = 3 with one KV head (replicated on every rank)
and a vocabulary of 512 that 3 does not divide (padded output rows)."""
from __future__ import annotations

import pytest
import torch

from evalkit.errors import UsageError
from evalkit.model.config import ModelConfig
from evalkit.model.tensor_parallel import TensorParallel, check, rank_slice
from tests.conftest import STORIES_BIN, needs_stories
from tests.tp_checkpoints import random_weights, write_hf, write_meta
from tests.tp_ranks import run_ranks

pytestmark = needs_stories  # the tokenizer (tok512) and stories260K come from ../shared

GQA = ModelConfig(dim=64, n_heads=4, n_kv_heads=2, n_layers=2, vocab_size=512, multiple_of=32, norm_eps=1e-5,
                  max_seq_len=256)
MQA = ModelConfig(dim=96, n_heads=6, n_kv_heads=1, n_layers=2, vocab_size=512, multiple_of=48, norm_eps=1e-5,
                  max_seq_len=256)  # ffn 288: 3 divides it, and 2 (Meta's shards)


def requests():
    from evalkit.requests import GenerateRequest, LoglikelihoodRequest
    context = "Once upon a time, there was a little girl named Lily. She"
    scoring = [LoglikelihoodRequest(context, c) for c in (" loved to play.", " was sad.", " ran home", " saw a cat")] + \
              [LoglikelihoodRequest("The sun", " was hot and bright."), LoglikelihoodRequest("Tom had a", " red ball.")]
    generation = [GenerateRequest(context, ("\n",), 24, 0.0, 1.0, 1, 0),           # greedy
                  GenerateRequest("Tom had a", (".",), 16, 0.8, 0.95, 3, 7)]        # 3 samples of one prefill
    return scoring, generation


def outputs(tp: TensorParallel | None, spec: str) -> dict:
    """What the engine answers with the model `spec` split over `tp` (None: whole, in this process)."""
    from evalkit.engine import Engine
    from evalkit.model.loaders import load_model
    torch.set_num_threads(1)
    loaded = load_model(spec, tp=tp)
    engine = Engine(loaded, batch_size="auto")
    scoring, generation = requests()
    return {"loglikelihoods": [r.loglikelihood for r in engine.loglikelihood(scoring)],
            "greedy": [r.is_greedy for r in engine.loglikelihood(scoring)],
            "texts": [r.texts for r in engine.generate(generation)],
            "kv_heads": loaded.model.new_cache(1, 1).k.shape[2]}


def all_outputs(tp: TensorParallel | None, specs: list[str]) -> list[dict]:
    return [outputs(tp, spec) for spec in specs]


def assert_split_equals_whole(specs: list[str], size: int) -> list[dict]:
    ranks = run_ranks(size, all_outputs, specs)
    for spec, whole, *split in zip(specs, all_outputs(None, specs), *ranks):
        for rank in split[1:]:
            assert {**rank, "kv_heads": 0} == {**split[0], "kv_heads": 0}, spec  # ranks agree exactly
        ours = split[0]
        assert torch.allclose(torch.tensor(ours["loglikelihoods"]), torch.tensor(whole["loglikelihoods"]),
                              atol=1e-4, rtol=0), spec
        assert ours["greedy"] == whole["greedy"] and ours["texts"] == whole["texts"], spec
        assert any(t.strip() for texts in ours["texts"] for t in texts), spec  # something was generated
    return ranks


def test_two_ranks_equal_one_on_stories_meta_shards_and_hf(tmp_path):
    weights = random_weights(GQA)
    meta = write_meta(tmp_path / "meta", GQA, weights, n_shards=2)  # one shard per rank: read directly
    hf = write_hf(tmp_path / "hf", GQA, weights)
    ranks = assert_split_equals_whole([str(STORIES_BIN), str(meta), str(hf)], 2)
    assert [r["kv_heads"] for r in ranks[0]] == [2, 1, 1]  # stories: 4 KV heads; GQA: 2 -> each rank its own


def test_three_ranks_reslice_two_meta_shards_replicate_one_kv_head_and_pad_the_vocabulary(tmp_path):
    weights = random_weights(MQA, seed=1)
    meta = write_meta(tmp_path / "meta", MQA, weights, n_shards=2)  # rank 1's slices straddle both shards
    hf = write_hf(tmp_path / "hf", MQA, weights)
    ranks = assert_split_equals_whole([str(meta), str(hf)], 3)
    assert [r["kv_heads"] for r in ranks[2]] == [1, 1]


def test_kv_heads_follow_the_query_heads():
    """With fewer KV heads than ranks, rank r's query heads all read KV head r // (T / kv), which it holds."""
    cfg = ModelConfig(dim=128, n_heads=8, n_kv_heads=2, n_layers=1, vocab_size=512)
    hd, group = cfg.head_dim, cfg.n_heads // cfg.kv_heads
    for r in range(4):
        q = rank_slice("layers.0.attention.wq.weight", cfg, TensorParallel(r, 4))
        k = rank_slice("layers.0.attention.wk.weight", cfg, TensorParallel(r, 4))
        assert {h // group for h in range(q.start // hd, q.stop // hd)} == {k.start // hd}
        assert k.stop - k.start == hd


@pytest.mark.parametrize("cfg, size, says", [
    (ModelConfig(dim=96, n_heads=6, n_kv_heads=3, vocab_size=512), 4, "6 attention heads"),
    (ModelConfig(dim=64, n_heads=4, n_kv_heads=2, hidden_dim=171, vocab_size=512), 2, "feed-forward size of 171"),
    (ModelConfig(dim=96, n_heads=6, n_kv_heads=3, hidden_dim=96, vocab_size=512), 2, "3 key/value heads"),
])
def test_splits_the_shape_does_not_allow_are_refused(cfg, size, says):
    with pytest.raises(UsageError, match=says):
        check(cfg, size, "model")


def test_a_rank_of_a_bf16_hf_checkpoint_keeps_bf16_and_holds_its_heads(tmp_path):
    """Loading needs no collective: rank 1 of 2 read in this process equals the rows of the whole model's
    weights that rank_slice names, in the stored dtype (wq and wk too, which are unpermuted per slice)."""
    from evalkit.model.loaders import load_model
    weights = {name: t.to(torch.bfloat16) for name, t in random_weights(GQA, seed=2).items()}
    folder = str(write_hf(tmp_path / "hf", GQA, weights))
    whole = dict(load_model(folder).model.named_parameters())
    tp = TensorParallel(1, 2)
    for name, param in load_model(folder, tp=tp).model.named_parameters():
        part = rank_slice(name, GQA, tp)
        expected = whole[name] if part is None else whole[name].narrow(part.dim, part.start, part.stop - part.start)
        assert param.dtype == torch.bfloat16 and torch.equal(param, expected), name


def test_a_stored_tensor_of_the_wrong_shape_is_refused_before_it_is_sliced(tmp_path):
    from evalkit.errors import CheckpointError
    from evalkit.model.loaders import load_model
    weights = random_weights(GQA, seed=3)
    weights["layers.1.attention.wk.weight"] = weights["layers.1.attention.wq.weight"]  # 4 heads of rows, not 2
    folder = write_hf(tmp_path / "hf", GQA.with_(n_kv_heads=4), weights)  # permuted as 4 heads
    (folder / "config.json").write_text((folder / "config.json").read_text().replace(
        '"num_key_value_heads": 4', '"num_key_value_heads": 2'))
    with pytest.raises(CheckpointError, match=r"layers.1.attention.wk.weight has shape \(64, 64\)"):
        load_model(str(folder), tp=TensorParallel(0, 2))
