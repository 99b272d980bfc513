"""Packed scoring (prefix trees in long rows) against the previous padded scheme and plain forwards."""
from __future__ import annotations

import pytest
import torch

from padded_scoring import padded_score
from test_engine_scoring import ENDINGS, STORY
from evalkit.engine.batching import BatchPolicy
from evalkit.engine.encoding import TokenRequest
from evalkit.engine.packing import layout, pack
from evalkit.engine.prefix_tree import prefix_tree
from evalkit.engine.request_windows import scoring_windows
from evalkit.engine.scoring import score
from evalkit.engine.stats import EngineStats
from evalkit.model.key_windows import KeyWindows
from evalkit.model.loaders import load_model
from evalkit.requests import LoglikelihoodRequest

CPU = torch.device("cpu")


def test_prefix_tree_holds_each_prefix_once_and_ends_subtrees():
    seqs = [(5, 6, 7), (5, 6, 8, 9), (5, 6), (4,), (5, 6, 8, 9)]
    tree = prefix_tree(seqs)
    assert len(tree) == 6  # 4 | 5 6 | 7 | 8 9
    for seq, path in zip(seqs, tree.paths):
        assert [tree.tokens[n] for n in path] == list(seq) and [tree.depth[n] for n in path] == list(range(len(seq)))
        for i, node in enumerate(path):  # every earlier node of a sequence is an ancestor: j <= i < end[j]
            assert all(a <= node < tree.end[a] for a in path[:i + 1])
    ancestors = {n for path in tree.paths for n in path[:-1]}
    leaves = [n for n in range(len(tree)) if n not in ancestors]
    assert all(tree.end[n] == n + 1 for n in leaves)
    assert tree.paths[1] == tree.paths[4]


def test_pack_balances_rows_and_keeps_long_items_alone():
    sizes = [300, 250, 40, 1500, 90, 90, 700, 10, 333, 512]
    rows = pack(sizes, 1024)
    assert sorted(i for row in rows for i in row) == list(range(len(sizes)))
    assert rows[0] == [3]  # 1500 tokens: a row of its own
    loads = [sum(sizes[i] for i in row) for row in rows[1:]]
    assert len(loads) == 3 and max(loads) - min(loads) <= 300
    assert pack(sizes, 0) == [[i] for i in sorted(range(len(sizes)), key=lambda i: -sizes[i])]


def test_layout_mask_reads_ancestors_and_the_cached_prefix():
    trees = [prefix_tree([(1, 2, 3), (1, 4)]), prefix_tree([(7,)])]
    packed = layout(trees, offset=2, device=CPU)
    assert packed.tokens.tolist() == [[1, 2, 3, 4], [7, 0, 0, 0]]
    assert packed.positions.tolist() == [[2, 3, 4, 3], [2, 2, 2, 2]]  # depth after the prefix
    assert packed.real.tolist() == [[True] * 4, [True, False, False, False]]
    own = packed.attn_mask[:, 0, :, 2:].int().tolist()
    assert own[0] == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 1]]
    assert own[1] == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]  # padding reads only itself
    assert packed.attn_mask[:, 0, :, :2].all()
    assert layout([prefix_tree([(1, 2, 3)])], 0, CPU).attn_mask is None  # one whole sequence: plain causal


def workload(tokenizer) -> list[TokenRequest]:
    """Token windows of every shape scoring meets (see each line)."""
    words = STORY.split(" ")
    requests = []
    for i in range(7):  # shared contexts of different lengths, 2-5 endings each, one- and multi-token
        context = " ".join(words[:4 + 6 * i]) + ("" if i % 3 else " ")
        requests += [LoglikelihoodRequest(context, ending) for ending in ENDINGS[:2 + i % 4]]
    for preamble in (STORY * 2, STORY * 30):  # families: packed whole in a row / longer than a row (KV cache)
        requests += [LoglikelihoodRequest(f"{preamble}Q: {q}?\nA:", f" {a}") for q in ("Who", "What color", "Where")
                     for a in ("A", "B", "Lily and the big red ball")]
    requests += [LoglikelihoodRequest("", "Lily and the ball."), LoglikelihoodRequest("Once", " upon a")]
    requests += requests[:4]  # duplicates
    windows = [w for ws in scoring_windows(tokenizer, requests, 2048).values() for w in ws]
    cut = scoring_windows(tokenizer, [LoglikelihoodRequest(STORY, e) for e in ENDINGS[:3]], 24)  # cut to the window
    return windows + [w for ws in cut.values() for w in ws]


@pytest.fixture(scope="module", params=["stories260K", "tiny"])
def model(request, stories):
    return stories if request.param == "stories260K" else load_model("tiny")


@pytest.fixture(scope="module")
def padded(model):
    return padded_score(model.model, workload(model.tokenizer), BatchPolicy.from_setting(4, False, CPU), EngineStats())


@pytest.mark.parametrize("batch_size", [1, 3, 8, "auto"])
def test_packed_equals_padded(model, padded, batch_size):
    requests, stats = workload(model.tokenizer), EngineStats()
    with torch.inference_mode():
        packed = score(model.model, requests, BatchPolicy.from_setting(batch_size, False, CPU), stats)
    assert set(packed) == set(padded)
    for r in padded:
        assert packed[r].loglikelihood == pytest.approx(padded[r].loglikelihood, abs=1e-4), r
        assert packed[r].is_greedy == padded[r].is_greedy, r
    assert stats.prefix_tokens_reused > 0 and stats.contexts_reused > 0


def test_packed_forwards_fewer_tokens_in_fewer_calls(model):
    requests = workload(model.tokenizer)
    old, new = EngineStats(), EngineStats()
    padded_score(model.model, requests, BatchPolicy.from_setting(8, False, CPU), old)
    with torch.inference_mode():
        score(model.model, requests, BatchPolicy.from_setting(8, False, CPU), new)
    assert new.tokens_forwarded < old.tokens_forwarded and 2 * new.forward_calls <= old.forward_calls
    assert new.padding_tokens <= 0.05 * (new.tokens_forwarded + new.padding_tokens)


def test_deterministic_mode_is_bit_identical_whatever_comes_along(model):
    requests = workload(model.tokenizer)
    policy = BatchPolicy.from_setting(8, True, CPU)
    with torch.inference_mode():
        together = score(model.model, requests, policy, EngineStats(), share_prefixes=False)
        for r in requests[::5]:
            alone = score(model.model, [r], policy, EngineStats(), share_prefixes=False)[r]
            assert alone == together[r]


def test_a_row_shortened_by_shared_continuations_still_fits_its_family_cache(stories):
    """Rows are packed by an upper bound of their tree; the cache must hold the longest actual row."""
    prefix = tuple(range(10, 50))  # a family prefix (40 tokens)
    stem = tuple(range(100, 200))  # ten continuations sharing their first 100 tokens: the tree is far smaller
    requests = [TokenRequest(prefix + (1,), stem + (300 + k, 7)) for k in range(10)]
    requests.append(TokenRequest(prefix + tuple(range(200, 500)) * 2, (8,)))  # 600 tokens after the prefix
    policy = BatchPolicy.from_setting(2, False, CPU)
    with torch.inference_mode():
        packed = score(stories.model, requests, policy, EngineStats())
    padded = padded_score(stories.model, requests, policy, EngineStats())
    for r in requests:
        assert packed[r].loglikelihood == pytest.approx(padded[r].loglikelihood, abs=1e-4)


def test_rows_of_short_trees_attend_by_key_windows_and_score_as_padded(stories, monkeypatch):
    """PIQA's shape: many short contexts behind one shared trunk ("Question:"), two long endings each."""
    import evalkit.engine.scoring as scoring
    masks = []

    def spy(*args):
        packed = layout(*args)
        masks.append(packed.attn_mask)
        return packed
    monkeypatch.setattr(scoring, "layout", spy)
    words = (STORY * 3).split(" ")
    requests = [LoglikelihoodRequest(f"Question: {' '.join(words[i:i + 5 + i % 7])}?\nAnswer:", f" {ending}")
                for i in range(40) for ending in (" ".join(words[i + 3:i + 12]), " ".join(words[i + 1:i + 9]))]
    tokens = [w for ws in scoring_windows(stories.tokenizer, requests, 2048).values() for w in ws]
    policy = BatchPolicy.from_setting(8, False, CPU)
    with torch.inference_mode():
        packed = score(stories.model, tokens, policy, EngineStats())
    padded = padded_score(stories.model, tokens, policy, EngineStats())
    assert any(isinstance(m, KeyWindows) for m in masks)
    for r in tokens:
        assert packed[r].loglikelihood == pytest.approx(padded[r].loglikelihood, abs=1e-4), r
        assert packed[r].is_greedy == padded[r].is_greedy, r


def test_scoring_counts_each_output_layer_row_once_and_its_seconds(stories):
    """Context (1, 2, 3) with continuations (4, 5) and (4, 6): the context's last token predicts both 4s,
    and the shared node 4 predicts 5 and 6: two rows through the output layer, not four."""
    requests = [TokenRequest((1, 2, 3), (4, 5)), TokenRequest((1, 2, 3), (4, 6)), TokenRequest((7,), (8, 9, 10))]
    stats = EngineStats()
    with torch.inference_mode():
        score(stories.model, requests, BatchPolicy.from_setting(8, False, CPU), stats)
    assert stats.scored_positions == 2 + 3 and stats.scoring_seconds > 0
