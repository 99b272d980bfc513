"""Block-sparse attention (model/key_windows.py) against SDPA with the dense tree mask it stands for."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from evalkit.engine.packing import layout
from evalkit.engine.prefix_tree import prefix_tree
from evalkit.model.key_windows import KeyWindows, key_windows


def forest(rng: random.Random, n: int, trunk: tuple[int, ...]) -> list[tuple[int, ...]]:
    """n sequences: contexts behind a shared trunk (as "Question:" starts every PIQA prompt), each with
    endings that share their first tokens now and then."""
    seqs = []
    for _ in range(n):
        context = trunk + tuple(rng.randrange(50) for _ in range(rng.randrange(1, 60)))
        for _ in range(rng.randrange(1, 5)):
            seqs.append(context + tuple(rng.randrange(3) for _ in range(rng.randrange(0, 25))))
    return seqs


def row_ends(trees, T: int) -> torch.Tensor:
    """(rows, T): where each slot's subtree ends, as layout lays the trees out (a padding slot ends at itself)."""
    end = torch.arange(1, T + 1).repeat(len(trees), 1)
    for b, tree in enumerate(trees):
        end[b, :len(tree)] = torch.tensor(tree.end)
    return end


def dense_mask(end: torch.Tensor, offset: int) -> torch.Tensor:
    B, T = end.shape
    slot = torch.arange(T)
    own = (slot[None, None, :] <= slot[None, :, None]) & (slot[None, :, None] < end[:, None, :])
    return torch.cat([torch.ones(B, T, offset, dtype=torch.bool), own], dim=2)[:, None]


@pytest.mark.parametrize("offset, trunk, block, kv_heads", [(0, (), 128, 4), (0, (1, 2, 3), 64, 2),
                                                           (37, (9,), 128, 4), (0, (5,), 7, 4)])
def test_windows_attend_as_the_dense_tree_mask(offset, trunk, block, kv_heads):
    rng = random.Random(offset + block)
    trees = [prefix_tree(forest(rng, 30, trunk)), prefix_tree(forest(rng, 11, trunk))]  # rows of unequal length
    packed = layout(trees, offset, torch.device("cpu"))
    T = packed.tokens.shape[1]
    end = row_ends(trees, T)
    windows = key_windows(end, offset, block)
    assert windows.mask.shape[-1] < offset + T // 2  # the point: far fewer keys than the row
    torch.manual_seed(0)
    q = torch.randn(2, 4, T, 16, dtype=torch.float64)
    k, v = torch.randn(2, 2, kv_heads, offset + T, 16, dtype=torch.float64).unbind(0)
    gqa = kv_heads != 4
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask(end, offset), enable_gqa=gqa)
    sparse = windows.attend(q, k, v, gqa)
    real = packed.real[:, None, :, None].expand_as(dense)
    assert torch.allclose(sparse[real], dense[real], atol=1e-12)
    assert not sparse.isnan().any()  # padded queries too read a key


def test_layout_uses_windows_for_a_row_of_short_trees_and_the_dense_mask_for_one_long_sequence():
    rng = random.Random(1)
    cpu = torch.device("cpu")
    assert isinstance(layout([prefix_tree(forest(rng, 30, (4, 4)))], 0, cpu).attn_mask, KeyWindows)
    long_tree = prefix_tree([tuple(range(600)), tuple(range(599)) + (7,)])  # every slot reads the one trunk
    assert isinstance(layout([long_tree], 0, cpu).attn_mask, torch.Tensor)


def test_windows_gather_no_more_keys_per_call_than_the_layer_holds(monkeypatch):
    """Small blocks re-read the trunk and the cached prefix many times over: the windows are split into
    several SDPA calls, none gathering more keys and values than k and v hold, with the same result."""
    rng = random.Random(3)
    trees = [prefix_tree(forest(rng, 20, (1, 2))), prefix_tree(forest(rng, 20, (3,)))]
    offset = 50
    packed = layout(trees, offset, torch.device("cpu"))
    T = packed.tokens.shape[1]
    end = row_ends(trees, T)
    windows = key_windows(end, offset, 8)
    torch.manual_seed(0)
    q = torch.randn(2, 4, T, 16, dtype=torch.float64)
    k, v = torch.randn(2, 2, 4, offset + T, 16, dtype=torch.float64).unbind(0)
    assert windows.keys.numel() > 2 * k.shape[0] * k.shape[2]  # all windows' keys: over twice the layer's
    gathered = []
    sdpa = F.scaled_dot_product_attention

    def counting(q_, k_, v_, **kwargs):
        gathered.append(k_.numel() + v_.numel())
        return sdpa(q_, k_, v_, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    sparse = windows.attend(q, k, v, False)
    monkeypatch.undo()
    assert len(gathered) > 1 and max(gathered) <= k.numel() + v.numel()
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask(end, offset))
    real = packed.real[:, None, :, None].expand_as(dense)
    assert torch.allclose(sparse[real], dense[real], atol=1e-12)
