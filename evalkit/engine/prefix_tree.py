"""Token sequences as a prefix tree (trie) laid out in depth-first order: every distinct prefix once.

Packed scoring forwards the tree as part of one row. In depth-first order a node's descendants directly
follow it, so "node j is an ancestor of node i (or i itself)" is simply j <= i < end[j]: that one
comparison is the attention mask (a token reads only the tokens before it in its own sequences), and a
node's depth is its rotary position. A context shared by four answers is forwarded once; answers that
start alike share their first tokens too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass
class PrefixTree:
    tokens: list[int]        # (n,) each node's token, depth-first order
    depth: list[int]         # (n,) its index within its sequences (0 for a first token)
    end: list[int]           # (n,) one past its last descendant
    paths: list[list[int]]   # per sequence (in the order given): its nodes, one per token

    def __len__(self) -> int:
        return len(self.tokens)


def prefix_tree(sequences: Sequence[Sequence[int]]) -> PrefixTree:
    """The trie of the sequences (any order, repeats allowed).

    Sorted sequences visit the trie depth-first: each adds the nodes past its common prefix with the one
    before, and a node's subtree ends when a later sequence first leaves it.
    """
    tree = PrefixTree([], [], [], [[] for _ in sequences])
    path: list[int] = []          # nodes of the previous sequence
    previous: Sequence[int] = ()
    for i in sorted(range(len(sequences)), key=lambda i: tuple(sequences[i])):
        seq = sequences[i]
        keep = 0
        while keep < min(len(seq), len(previous)) and seq[keep] == previous[keep]:
            keep += 1
        for node in path[keep:]:
            tree.end[node] = len(tree.tokens)
        del path[keep:]
        for d in range(keep, len(seq)):
            path.append(len(tree.tokens))
            tree.tokens.append(seq[d])
            tree.depth.append(d)
            tree.end.append(-1)
        tree.paths[i] = path[:len(seq)]
        previous = seq
    for node in path:
        tree.end[node] = len(tree.tokens)
    return tree
