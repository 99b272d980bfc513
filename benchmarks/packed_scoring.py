"""Packed scoring (prefix trees in long rows) against the previous padded scheme, on real requests.

Requests come from the real benchmark files (../shared/data): HellaSwag, PIQA, ARC-Easy and three MMLU
subjects (5-shot), tokenized with the bundled `tiny` tokenizer (1024 pieces, so about 1.5x LLaMA's token
counts) and scored by the "small" preset with random weights (engine_common.py). Per workload: tokens
forwarded, padding share, forward calls and wall time of both schemes, and their largest log-likelihood
difference. Then, for the packed forwards: time per forwarded slot against plain causal forwards of the
same (rows, length) shapes (the masked dense attention's cost), and the efficiency figure: achieved
GFLOP/s (real tokens x 2 x layer parameters / forward time) against F.linear over the layers' own weights
for the same rows, in fp32 and bf16. All ratios are within one run (the machine is shared).

    .venv/bin/python benchmarks/packed_scoring.py --docs 20 --repeats 2

Measured (--docs 20 --repeats 2, batch 8, 2 threads, 2-core Xeon with AVX512-BF16, load ~1; rows attend
by key windows, model/key_windows.py): padding 26-33% -> 0.0% (MMLU 14.8% -> 0.0%), forward calls
15/8/13/18 -> 4/2/2/11, wall 1.44x/1.48x/1.89x/1.47x faster (HellaSwag/PIQA/ARC-Easy/MMLU), max |dLL|
1e-5, same greedy flags. Packed forward per slot against plain causal forwards of the same shapes:
fp32 1.10x, bf16 1.18x; efficiency of the layers alone (no output layer) fp32 121 of 169 GFLOP/s (71%),
bf16 177 of 350 GFLOP/s (51%). Scoring as a whole (output layer and log-softmax included) is measured
end to end by vs_lm_eval.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's evalkit; the previous scheme, a test reference

from engine_common import small_model  # noqa: E402
from padded_scoring import padded_score  # noqa: E402
from evalkit.engine.batching import BatchPolicy  # noqa: E402
from evalkit.engine.request_windows import scoring_windows  # noqa: E402
from evalkit.engine.scoring import score  # noqa: E402
from evalkit.engine.stats import EngineStats  # noqa: E402
from evalkit.model.llama import Transformer  # noqa: E402
from evalkit.model.loaders import load_model  # noqa: E402
from evalkit.task import DataSource  # noqa: E402
from tasks import get_task  # noqa: E402

WORKLOADS = {"hellaswag": ["hellaswag"], "piqa": ["piqa"], "arc_easy": ["arc_easy"],
             "mmlu (3 subjects)": ["mmlu_high_school_geography", "mmlu_marketing", "mmlu_anatomy"]}


def token_requests(tasks: list[str], docs: int, data_dir: Path, tokenizer) -> list:
    requests = []
    for name in tasks:
        task = get_task(name)
        for i, doc in enumerate(task.docs(DataSource(data_dir=data_dir), docs)):
            requests += task.requests(doc, i, 1234)
    return [w for ws in scoring_windows(tokenizer, requests, 2048).values() for w in ws]


class ForwardLog:
    """Wraps model.hidden_states_at: the (rows, length) shape, real tokens and seconds of each call."""

    def __init__(self, model: Transformer):
        self.calls: list[tuple[int, int, int, float]] = []
        inner = model.hidden_states_at

        def timed(tokens, positions, attn_mask, cache=None, real=None):
            start = time.perf_counter()
            out = inner(tokens, positions, attn_mask, cache, real)
            real_tokens = tokens.numel() if real is None else int(real.sum())
            self.calls.append((*tokens.shape, real_tokens, time.perf_counter() - start))
            return out
        model.hidden_states_at = timed


def scheme(fn, model, windows, batch_size) -> tuple[dict, EngineStats, float]:
    stats = EngineStats()
    start = time.perf_counter()
    with torch.inference_mode():
        scores = fn(model, windows, BatchPolicy.from_setting(batch_size, False, torch.device("cpu")), stats)
    return scores, stats, time.perf_counter() - start


def plain_seconds(model: Transformer, shapes: list[tuple[int, int]]) -> float:
    """Plain causal forwards (no mask, no cache) of the given (rows, length) shapes."""
    total = 0.0
    with torch.inference_mode():
        for rows, length in shapes:
            tokens = torch.randint(3, model.cfg.vocab_size, (rows, length))
            start = time.perf_counter()
            model.hidden_states(tokens)
            total += time.perf_counter() - start
    return total


def matmul_seconds(model: Transformer, slots: list[int]) -> float:
    """F.linear through every layer's weights (the forward's matrix work) for each forward's slot count."""
    weights = [w.weight for layer in model.layers for w in (layer.attention.wq, layer.attention.wk,
               layer.attention.wv, layer.attention.wo, layer.feed_forward.w1, layer.feed_forward.w3,
               layer.feed_forward.w2)]
    total = 0.0
    with torch.inference_mode():
        for m in slots:
            inputs = {w.shape[1]: torch.randn(m, w.shape[1], dtype=model.dtype) for w in weights}
            start = time.perf_counter()
            for w in weights:
                F.linear(inputs[w.shape[1]], w)
            total += time.perf_counter() - start
    return total


def layer_parameters(model: Transformer) -> int:
    return sum(p.numel() for layer in model.layers for p in layer.parameters())


def efficiency(model: Transformer, windows: list, batch_size: int, repeats: int) -> tuple[float, float, float, float]:
    """(forward s, plain causal s, achieved GFLOP/s, matmul GFLOP/s) of the packed forwards, best of repeats."""
    best = None
    for _ in range(repeats):
        log = ForwardLog(model)
        scheme(score, model, windows, batch_size)
        del model.hidden_states_at
        forward = sum(c[3] for c in log.calls)
        shapes = [(c[0], c[1]) for c in log.calls]
        plain = plain_seconds(model, shapes)
        matmul = matmul_seconds(model, [c[0] * c[1] for c in log.calls])
        real = sum(c[2] for c in log.calls)
        slots = sum(c[0] * c[1] for c in log.calls)
        flops = 2 * layer_parameters(model)
        found = (forward, plain, real * flops / forward / 1e9, slots * flops / matmul / 1e9)
        best = found if best is None or found[0] < best[0] else best
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40, help="documents per task (per subject for MMLU)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="timings keep the best of this many runs")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = load_model("tiny").tokenizer
    model = small_model().model
    loads = {name: token_requests(tasks, args.docs, args.data_dir, tokenizer) for name, tasks in WORKLOADS.items()}
    print(f"small preset (random weights), tiny tokenizer, {args.docs} docs per task, batch size "
          f"{args.batch_size}, {args.threads} threads, best of {args.repeats}")
    print(f"{'workload':<18} {'scheme':<7} {'tokens':>8} {'padding':>8} {'calls':>6} {'wall s':>7}   "
          "padded/packed wall   max |dLL|  same greedy")
    for name, windows in loads.items():
        runs = {}
        for label, fn in (("padded", padded_score), ("packed", score)):
            runs[label] = min((scheme(fn, model, windows, args.batch_size) for _ in range(args.repeats)),
                              key=lambda run: run[2])
        for label, (_, stats, wall) in runs.items():
            share = stats.padding_tokens / (stats.tokens_forwarded + stats.padding_tokens)
            print(f"{name:<18} {label:<7} {stats.tokens_forwarded:>8,} {share:>8.1%} {stats.forward_calls:>6} "
                  f"{wall:>7.2f}", end="\n" if label == "padded" else "")
        old, new = runs["padded"][0], runs["packed"][0]
        diff = max(abs(old[r].loglikelihood - new[r].loglikelihood) for r in old)
        same = all(old[r].is_greedy == new[r].is_greedy for r in old)
        print(f"   {runs['padded'][2] / runs['packed'][2]:>6.2f}x           {diff:.1e}    {same}")

    everything = [w for windows in loads.values() for w in windows]
    print("\npacked forwards, all workloads together: time per slot against plain causal forwards of the "
          "same shapes; achieved GFLOP/s against F.linear over the layers' weights for the same rows")
    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        forward, plain, achieved, peak = efficiency(model, everything, args.batch_size, args.repeats)
        print(f"  {str(dtype).removeprefix('torch.'):<9} forward {forward:6.2f} s  plain causal {plain:6.2f} s  "
              f"ratio {forward / plain:4.2f}x   achieved {achieved:6.1f} GFLOP/s  matmul {peak:6.1f} GFLOP/s  "
              f"efficiency {achieved / peak:5.1%}")


if __name__ == "__main__":
    main()
