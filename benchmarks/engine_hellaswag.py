"""HellaSwag-shaped scoring: the engine vs lm-evaluation-harness's HF loop at batch 8 (lm_eval_style.py).

The baseline is the peer as its users run it: `lm_eval --model hf --batch_size 8`, requests sorted
longest first, 8 rows per forward through transformers' LlamaForCausalLM, one row per (context, choice),
right-padded. A second line runs the same loop on our own Transformer, to separate what the engine's
shared contexts and packing gain from any speed difference between the two model implementations.

Each question: a ~150-token context (120-180) and 4 choices of ~20 tokens (15-25), random ids on the
"small" preset with random weights (see engine_common.py). Printed: tokens forwarded (real and padding),
wall seconds, identical predictions.

    .venv/bin/python benchmarks/engine_hellaswag.py --questions 100 --threads 2
"""
from __future__ import annotations

import argparse
import random

import torch

from engine_common import THREADS_HELP, random_text, report, small_model, timed, to_transformers
from lm_eval_style import lm_eval_loglikelihoods
from evalkit.engine import Engine
from evalkit.requests import LoglikelihoodRequest


def workload(questions: int, context_len: tuple[int, int], choice_len: tuple[int, int], choices: int,
             seed: int = 0) -> list[list[LoglikelihoodRequest]]:
    rng = random.Random(seed)
    docs = []
    for _ in range(questions):
        context = random_text(rng, rng.randint(*context_len)).strip()
        docs.append([LoglikelihoodRequest(context, random_text(rng, rng.randint(*choice_len)))
                     for _ in range(choices)])
    return docs


def compare(docs: list[list[LoglikelihoodRequest]], title: str, batch_size: int | str = "auto",
            lm_eval_batch: int = 8) -> None:
    loaded = small_model()
    hf = to_transformers(loaded.model)
    requests = [r for doc in docs for r in doc]
    times: dict[str, float] = {}
    engine = Engine(loaded, batch_size=batch_size)
    transformers_forward, own_forward = (lambda ids: hf(ids).logits), loaded.model
    for forward in (transformers_forward, own_forward):  # warm everything up: first calls allocate
        lm_eval_loglikelihoods(forward, loaded.tokenizer, requests[:2], lm_eval_batch)
    engine.loglikelihood(requests[:1])
    engine.stats = type(engine.stats)()
    with timed(times, "baseline"):
        base, base_tokens, base_padding = lm_eval_loglikelihoods(transformers_forward, loaded.tokenizer, requests,
                                                                 lm_eval_batch)
    with timed(times, "own model, lm-eval's loop"):
        lm_eval_loglikelihoods(own_forward, loaded.tokenizer, requests, lm_eval_batch)
    with timed(times, "engine"):
        ours = [r.loglikelihood for r in engine.loglikelihood(requests)]

    def predictions(values: list[float]) -> list[int]:
        it = iter(values)
        return [max(range(len(doc)), key=lambda i, row=[next(it) for _ in doc]: row[i]) for doc in docs]

    same = predictions(base) == predictions(ours)
    worst = max(abs(a - b) for a, b in zip(base, ours))
    report(title + f"; baseline: lm-eval's HF loop at batch {lm_eval_batch}",
           [("tokens forwarded", base_tokens, engine.stats.tokens_forwarded),
            ("padding forwarded", base_padding, max(engine.stats.padding_tokens, 1)),
            ("wall seconds", times["baseline"], times["engine"]),
            ("  same, own model", times["own model, lm-eval's loop"], times["engine"])])
    print(f"  identical predictions: {same} ({len(docs)} questions); max |loglik diff| {worst:.2e}; "
          f"engine stats {engine.stats.as_dict()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=25, help="100 in the issue; 25 fits 2 CPU cores")
    parser.add_argument("--batch-size", default="auto", help="the engine's")
    parser.add_argument("--lm-eval-batch-size", type=int, default=8, help="the baseline's (lm-eval's --batch_size)")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    torch.set_grad_enabled(False)
    compare(workload(args.questions, (120, 180), (15, 25), 4),
            f"HellaSwag-shaped: {args.questions} questions x 4 choices, small preset, {torch.get_num_threads()} threads",
            batch_size, args.lm_eval_batch_size)


if __name__ == "__main__":
    main()
