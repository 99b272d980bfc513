"""The CPU sampler's top-k prefilter against sorting the whole vocabulary, on the same logits in the same run.

    .venv/bin/python benchmarks/sampler_prefilter.py [--rows 64 --vocab 32000 --threads 1]

Logits are Gaussian at three spreads (a flat distribution whose nucleus holds most of the vocabulary,
a middling one, and a peaked one whose nucleus holds a few tokens, as a trained model's mostly does),
temperature 0.8, top-p 0.95. Printed per spread: the median nucleus size, ms per call of each sampler,
the ratio, and whether the tokens are identical (they must be).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's evalkit; the sampler before, a test reference

from evalkit.engine.sampling import next_tokens  # noqa: E402
from whole_sort_sampling import whole_sort  # noqa: E402


def ms_per_call(fn, *args, repeats: int = 5) -> float:
    fn(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    temperature, top_p = torch.full((args.rows,), 0.8), torch.full((args.rows,), 0.95)
    uniform = torch.rand(args.rows, generator=generator)
    print(f"{args.rows} rows x {args.vocab} vocabulary, temperature 0.8, top-p 0.95, {args.threads} thread(s)")
    for spread in (1.0, 3.0, 6.0):
        logits = torch.randn(args.rows, args.vocab, generator=generator) * spread
        probs = torch.softmax(logits / 0.8, -1).sort(-1, descending=True).values
        nucleus = int(((probs.cumsum(-1) - probs) < 0.95).sum(-1).median())
        same = torch.equal(next_tokens(logits, temperature, top_p, uniform), whole_sort(logits, temperature, top_p, uniform))
        whole, ours = ms_per_call(whole_sort, logits, temperature, top_p, uniform), \
            ms_per_call(next_tokens, logits, temperature, top_p, uniform)
        print(f"  logit spread {spread}: nucleus ~{nucleus:>6} tokens  whole sort {whole:7.1f} ms  "
              f"prefilter {ours:7.1f} ms  ratio {whole / ours:5.2f}x  identical tokens {same}")


if __name__ == "__main__":
    main()
