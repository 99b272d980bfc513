"""Tensor parallelism on CPU: T = 1 against T = 2 (gloo), scoring and decoding speed and per-rank memory.

    .venv/bin/python benchmarks/tensor_parallel.py [--batch 2 --seq 512 --new 16 --repeats 2]

Model: the "small" preset (dim 512, 8 layers, 8 heads, FFN 1536, vocab 32000, fp32; 59M parameters) with
seeded random weights, saved once as a torch checkpoint; every configuration reads it with the sliced
loader (each rank its slice, evalkit/model/loaders/sliced.py). Workloads:
- score: one (batch, seq) forward, then the output layer at the last 32 positions of each row (the
  engine scores only continuation positions);
- decode: a (batch, 64) prefill, then `new` greedy single-token steps with the KV cache.
Configurations run one after another in fresh processes: T = 1 with 1 thread, T = 1 with 2 threads, T = 2
with 1 thread per rank. Memory: the rank's weights, and its resident-memory peak above the RSS before
loading (VmHWM after reading, then after the workloads). Ratios are against T = 1 with 1 thread.

Measured on this project's shared 2-vCPU Xeon (5 agents' jobs running alongside, so T = 1 with 2 threads
suffered most), torch 2.13 CPU, defaults:
    configuration         score tok/s  ratio  decode tok/s  ratio  weights/rank  load peak  run peak
    T=1, 1 thread                 579  1.00x            34  1.00x        229 MB     235 MB    288 MB
    T=1, 2 threads                277  0.48x             7  0.20x        229 MB     235 MB    296 MB
    T=2, 1 thread/rank            526  0.91x            33  0.98x        115 MB     120 MB    193 MB

On a shared 2-core machine T = 2 cannot be faster than T = 1 with 2 threads: the same matrix products are
split in two, plus two all-reduces per layer and two all-gathers per forward through gloo's TCP loopback.
Tensor parallelism is for models that do not fit one device; on GPUs the collectives go over NVLink (NCCL).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.model.config import preset  # noqa: E402
from evalkit.model.loaders.tiny import random_state_dict  # noqa: E402

MB = 1 << 20


def status(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def measure(tp, checkpoint: str, args) -> dict:
    """One rank: load its slice, time the workloads (best of --repeats), report memory."""
    from evalkit.model.llama import Transformer
    from evalkit.model.loaders.sliced import rank_state_dict
    from evalkit.model.loaders.stored import index_torch_file
    from evalkit.model.tensor_parallel import TensorParallel, parallelize
    tp = tp or TensorParallel(0, 1, None)
    cfg = preset("small")
    with torch.device("meta"):  # (the first model built loads libraries: not counted)
        model = Transformer(cfg)
        if tp.size > 1:
            parallelize(model, tp)
    open("/proc/self/clear_refs", "w").write("5")
    before = status("VmRSS")
    names = [name for name, _ in model.named_parameters()]
    model.load_weights(rank_state_dict(cfg, index_torch_file(Path(checkpoint)), names, tp, None, "cpu", checkpoint),
                       checkpoint)
    model.eval()
    load_peak = status("VmHWM") - before
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    tokens = torch.randint(3, cfg.vocab_size, (args.batch, args.seq), generator=torch.Generator().manual_seed(0))

    def score():
        hidden = model.hidden_states(tokens)  # (B, T, dim)
        return model.logits(hidden[:, -32:])  # (B, 32, vocab)

    def decode():
        cache = model.new_cache(args.batch, 64 + args.new)
        logits = model.logits(model.hidden_states(tokens[:, :64], None, cache)[:, -1])
        for _ in range(args.new):
            logits = model.logits(model.hidden_states(logits.argmax(-1)[:, None], None, cache)[:, -1])
        return logits

    times = {}
    with torch.inference_mode():
        for name, fn in (("score", score), ("decode", decode)):
            fn()  # warm-up
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - start)
            times[name] = best
    return {"weights": weights, "load_peak": load_peak, "run_peak": status("VmHWM") - before, **times}


def run_config(size: int, threads: int, checkpoint: str, args) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tp_ranks import run_ranks  # the tests' spawn harness: gloo on CPU, one thread per rank

    if threads == 1:
        return run_ranks(size, measure, checkpoint, args, timeout=600)[0]
    return run_ranks(1, _with_threads, threads, checkpoint, args, timeout=600)[0]


def _with_threads(tp, threads: int, checkpoint: str, args) -> dict:
    torch.set_num_threads(threads)
    return measure(tp, checkpoint, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--new", type=int, default=16, help="decoding steps after a 64-token prefill")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = str(Path(folder) / "small.pth")
        torch.save(random_state_dict(preset("small")), checkpoint)
        rows = [("T=1, 1 thread", run_config(1, 1, checkpoint, args)),
                ("T=1, 2 threads", run_config(1, 2, checkpoint, args)),
                ("T=2, 1 thread/rank", run_config(2, 1, checkpoint, args))]
    base = rows[0][1]
    score_tokens, decode_tokens = args.batch * args.seq, args.batch * args.new
    print(f"small preset, fp32, CPU, {torch.get_num_threads()} cores visible; score {args.batch}x{args.seq}, "
          f"decode {args.batch} rows x {args.new} steps")
    print(f"{'configuration':20} {'score tok/s':>12} {'ratio':>6} {'decode tok/s':>13} {'ratio':>6} "
          f"{'weights/rank':>13} {'load peak':>10} {'run peak':>9}")
    for name, r in rows:
        print(f"{name:20} {score_tokens / r['score']:12.0f} {base['score'] / r['score']:5.2f}x "
              f"{decode_tokens / r['decode']:13.0f} {base['decode'] / r['decode']:5.2f}x "
              f"{r['weights'] / MB:10.0f} MB {r['load_peak'] / MB:7.0f} MB {r['run_peak'] / MB:6.0f} MB")


if __name__ == "__main__":
    main()
