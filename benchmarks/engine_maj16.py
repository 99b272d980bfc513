"""maj1@16 generation: 16 samples of 64 tokens per ~300-token prompt (280-320), top-p sampling.

Baseline: lm-evaluation-harness's way (`repeats: 16` clones the request 16 times) as its users run it,
at `--batch_size 8`: two transformers `generate` calls of 8 clones per prompt (sampling, 64 new
tokens), each clone prefilling the prompt again. Also at lm-eval's default batch size 1: 16 calls per
prompt. Engine: one request with n=16 per prompt: one prefill, 16 rows reading the prompt's cache once
(cascade attention), all prompts' rows decoded together. Target: >= 3x faster. A last baseline makes the 16 calls through the
engine itself (n=1, batch size 1), separating the gain of one prefill + batched decoding from
implementation speed.

    .venv/bin/python benchmarks/engine_maj16.py --prompts 2
"""
from __future__ import annotations

import argparse
import random

import torch

from engine_common import THREADS_HELP, random_text, report, small_model, timed, to_transformers
from evalkit.engine import Engine
from evalkit.requests import GenerateRequest

SAMPLES, NEW_TOKENS, TEMPERATURE, TOP_P = 16, 64, 0.8, 0.95


@torch.inference_mode()
def naive_generate(hf, tokenizer, prompt: str, samples: int, batch: int = 1) -> tuple[list[list[int]], int]:
    """`samples` clones of the prompt through generate calls of `batch` clones -> generated ids, tokens forwarded."""
    ids = torch.tensor([tokenizer.encode(prompt, bos=True)])
    outputs = []
    for start in range(0, samples, batch):
        clones = ids.repeat(min(batch, samples - start), 1)
        out = hf.generate(clones, attention_mask=torch.ones_like(clones), do_sample=True, temperature=TEMPERATURE,
                          top_p=TOP_P, top_k=0, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)
        outputs += out[:, ids.shape[1]:].tolist()
    return outputs, samples * (ids.shape[1] + NEW_TOKENS - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2, help="50 in the issue; 2 fits 2 CPU cores")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    rng = random.Random(0)
    prompts = [random_text(rng, rng.randint(280, 320)).strip() for _ in range(args.prompts)]
    loaded = small_model()
    hf = to_transformers(loaded.model)
    requests = [GenerateRequest(p, max_new_tokens=NEW_TOKENS, temperature=TEMPERATURE, top_p=TOP_P, n=SAMPLES,
                                seed=i) for i, p in enumerate(prompts)]
    engine = Engine(loaded)
    naive_generate(hf, loaded.tokenizer, prompts[0][:200], 1)  # warm both up: first calls allocate
    engine.generate([GenerateRequest(prompts[0][:200], max_new_tokens=4)])
    engine.stats = type(engine.stats)()
    times: dict[str, float] = {}
    with timed(times, "baseline"):
        base_tokens = sum(naive_generate(hf, loaded.tokenizer, p, SAMPLES, batch=8)[1] for p in prompts)
    with timed(times, "batch 1"):
        for p in prompts:
            naive_generate(hf, loaded.tokenizer, p, SAMPLES)
    with timed(times, "own model, separate calls"):
        separate = Engine(loaded, batch_size=1)
        for r in requests:
            for k in range(SAMPLES):  # sample k of a one-sample request: another seed, same work
                separate.generate([GenerateRequest(r.context, max_new_tokens=NEW_TOKENS, temperature=TEMPERATURE,
                                                   top_p=TOP_P, seed=r.seed * SAMPLES + k)])
    with timed(times, "engine"):
        results = engine.generate(requests)
    report(f"maj1@16: {args.prompts} prompts x {SAMPLES} samples x {NEW_TOKENS} tokens, small preset",
           [("tokens forwarded", base_tokens, engine.stats.tokens_forwarded),
            ("wall seconds, lm-eval's clones at batch 8", times["baseline"], times["engine"]),
            ("  same, clones at batch 1", times["batch 1"], times["engine"]),
            ("  same, engine n=1 calls", times["own model, separate calls"], times["engine"])])
    lengths = {len(t.split()) for r in results for t in r.texts}
    distinct = min(len(set(r.texts)) for r in results)
    print(f"  engine samples: lengths {sorted(lengths)} tokens, >= {distinct} distinct of {SAMPLES} per prompt; "
          f"stats {engine.stats.as_dict()}")


if __name__ == "__main__":
    main()
