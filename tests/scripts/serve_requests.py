"""Test driver: serve a fixed mix of requests with stories260K through the response cache, write results.

    python tests/scripts/serve_requests.py OUT [--docs N] [--chunk-size K]
    torchrun --nproc_per_node 2 tests/scripts/serve_requests.py OUT ...

Writes OUT/results.json (rank 0 only): every result in request order, and how many requests this
process's engine computed. Used by test_resume.py (killed with SIGKILL mid-run) and test_distributed.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from evalkit.backends.llama import LlamaBackend
from evalkit.model.loaders import load_model
from evalkit.requests import GenerateRequest, LoglikelihoodRequest, RollingLoglikelihoodRequest
from evalkit.serving.dispatch import dispatch
from evalkit.serving.distributed import device, finish, is_main_process, main_process_first
from evalkit.serving.response_cache import ResponseCache

STORIES_BIN = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "stories260K" / "stories260K.bin"
NAMES = ["Lily", "Tom", "Sue", "Ben", "Max", "Anna", "Tim", "Mia"]
THINGS = ["a red ball", "a big dog", "a small cat", "a shiny toy", "a tall tree", "a blue bird"]


def build_requests(docs: int) -> list:
    """Per document: four continuations of one context (shared context), a rolling text, and every
    fifth document a sampled generation; plus a few exact duplicates."""
    requests = []
    for i in range(docs):
        name = NAMES[i % len(NAMES)]
        context = f"Once upon a time, {name} saw {THINGS[i % len(THINGS)]}." + " They played." * (i % 5)
        requests += [LoglikelihoodRequest(context, f" {name} {verb}.") for verb in ("was happy", "ran", "cried",
                                                                                    "smiled")]
        requests.append(RollingLoglikelihoodRequest(f"{name} had {THINGS[(i * 7) % len(THINGS)]}. " * (1 + i % 3)))
        if i % 5 == 0:
            requests.append(GenerateRequest(context, until=("\n",), max_new_tokens=12, temperature=0.8, n=2, seed=i))
    return requests + requests[:7]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--chunk-size", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a 260K-parameter model gains nothing from threads; on a busy CI box they contend
    loaded = load_model(str(STORIES_BIN), device=str(device()))
    backend = LlamaBackend(loaded, deterministic=True)
    with main_process_first():
        cache = ResponseCache(args.out / "cache.sqlite", backend.fingerprint)
    results = dispatch(backend, build_requests(args.docs), cache, chunk_size=args.chunk_size)
    if is_main_process():
        payload = {"results": [[type(r).__name__, dataclasses.asdict(r)] for r in results],
                   "computed": backend.stats.requests_served}
        (args.out / "results.json").write_text(json.dumps(payload))
    finish()


if __name__ == "__main__":
    main()
