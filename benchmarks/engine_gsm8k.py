"""GSM8K-shaped maj1@k: 8-shot prompts of about 800 tokens, k = 16 samples of 256 tokens, top-p sampling.

Baseline: lm-evaluation-harness's way of drawing k samples (`repeats: k` clones each request k times)
on plain transformers `generate`, as its users run it, at `--batch_size 8`: k / 8 calls of 8 clones per
prompt, each clone prefilling the 800-token prompt again. A second baseline hands all k clones to one
call (`--batch_size 16`); `--batch-1` adds lm-eval's default batch size, k calls per prompt (over 20
minutes per prompt on 2 cores). Engine: one request with n = k: one prefill, then k rows that read
the prompt's cache once (cascade attention), decoded together, with GSM8K's stop strings ("\\n\\n",
"Q:") checked every step (they never occur in id text, so every sample runs 256 tokens on both sides).
Then the engine's decode rate at k = 1, 16, 64 (tokens generated per second of decoding over 64 new
tokens, the one prefill timed apart): batching must make k samples far cheaper than k runs.

The issue's workload is GSM8K's 1,319 problems; on a 2-core machine the default is 1 prompt (a few
minutes on 1 thread of a quiet machine), `--prompts N` for more. Lines print as they are measured.

    .venv/bin/python benchmarks/engine_gsm8k.py --prompts 1
"""
from __future__ import annotations

import argparse
import random
import time

import torch

from engine_common import THREADS_HELP, random_text, report, small_model, timed, to_transformers
from evalkit.engine import Engine
from evalkit.requests import GenerateRequest

K, NEW_TOKENS, TEMPERATURE, TOP_P = 16, 256, 0.6, 0.95
UNTIL = ("\n\n", "Q:")
SHOTS, SHOT_TOKENS, QUESTION_TOKENS = 8, 92, 64  # 8 x 92 + 64 = 800 prompt tokens
RATE_TOKENS = 64  # new tokens per sample when measuring the decode rate at k = 1, 16, 64


@torch.inference_mode()
def cloned_requests(hf, ids: torch.Tensor, k: int, batch: int) -> None:
    """k clones of one prompt through `generate` calls of `batch` clones."""
    for start in range(0, k, batch):
        clones = ids.repeat(min(batch, k - start), 1)
        hf.generate(clones, attention_mask=torch.ones_like(clones), do_sample=True, temperature=TEMPERATURE,
                    top_p=TOP_P, top_k=0, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)


def decode_rate(engine: Engine, prompt: str, k: int) -> float:
    """Tokens generated per second of decoding for one prompt with n = k (the prefill timed apart)."""
    start = time.perf_counter()
    engine.generate([GenerateRequest(prompt, max_new_tokens=1, n=1, seed=k)])
    prefill = time.perf_counter() - start
    before = engine.stats.tokens_generated
    start = time.perf_counter()
    engine.generate([GenerateRequest(prompt, UNTIL, RATE_TOKENS, TEMPERATURE, TOP_P, n=k, seed=k)])
    return (engine.stats.tokens_generated - before) / (time.perf_counter() - start - prefill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1, help="1,319 in GSM8K; 1 fits a 2-core machine")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    parser.add_argument("--batch-1", action="store_true", help="also time lm-eval's default batch size (k calls)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    rng = random.Random(0)
    shots = "".join(random_text(rng, SHOT_TOKENS) for _ in range(SHOTS))  # the same 8 exemplars for every problem
    prompts = [(shots + random_text(rng, QUESTION_TOKENS)).strip() for _ in range(args.prompts)]
    loaded = small_model()
    hf = to_transformers(loaded.model)
    engine = Engine(loaded)
    ids = [torch.tensor([loaded.tokenizer.encode(p, bos=True)]) for p in prompts]
    hf.generate(ids[0][:, :50], attention_mask=torch.ones_like(ids[0][:, :50]), max_new_tokens=2)  # warm-up
    engine.generate([GenerateRequest(prompts[0][:200], max_new_tokens=2)])
    engine.stats = type(engine.stats)()

    times: dict[str, float] = {}
    with timed(times, "engine"):
        results = engine.generate([GenerateRequest(p, UNTIL, NEW_TOKENS, TEMPERATURE, TOP_P, n=K, seed=i)
                                   for i, p in enumerate(prompts)])
    assert all(len(r.texts) == K and len(set(r.texts)) == K for r in results)
    print(f"engine: {times['engine']:.1f} s", flush=True)
    baselines = {"lm-eval's clones at batch 8": 8, "  same, one batch of 16": K}
    if args.batch_1:
        baselines["  same, batch 1"] = 1
    for name, batch in baselines.items():
        with timed(times, name):
            for prompt_ids in ids:
                cloned_requests(hf, prompt_ids, K, batch)
        print(f"{name.strip()}: {times[name]:.1f} s", flush=True)
    prompt_tokens = ids[0].shape[1]
    report(f"GSM8K-shaped maj1@{K}: {args.prompts} prompt(s) of {prompt_tokens} tokens x {K} samples x {NEW_TOKENS} "
           f"tokens, small preset, {args.threads} thread(s)",
           [(f"wall s, {name}", times[name], times["engine"]) for name in baselines]
           + [("tokens forwarded", args.prompts * K * (prompt_tokens + NEW_TOKENS - 1), engine.stats.tokens_forwarded)])
    rates = {}
    for k in (1, 16, 64):
        rates[k] = decode_rate(Engine(loaded), prompts[0], k)
        print(f"  engine decode rate, {RATE_TOKENS} new tokens: k={k} {rates[k]:,.0f} tok/s "
              f"({rates[k] / rates[1]:.1f}x k=1)", flush=True)


if __name__ == "__main__":
    main()
