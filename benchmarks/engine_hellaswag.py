"""HellaSwag-shaped scoring: the engine vs one full transformers forward per (context, choice).

A second baseline runs the same naive loop on our own Transformer, to separate what the engine's
batching and shared contexts gain from any speed difference between the two model implementations.

Each question: a ~150-token context (120-180) and 4 choices of ~20 tokens (15-25), random ids on the
"small" preset with random weights (see engine_common.py). The baseline is what lm-evaluation-harness's
HF backend does per request: forward (context + choice)[:-1] through LlamaForCausalLM, log_softmax
over every position, sum the choice's log-probabilities. Targets: >= 3x fewer tokens forwarded,
>= 2.5x faster, identical predictions.

    .venv/bin/python benchmarks/engine_hellaswag.py --questions 25
"""
from __future__ import annotations

import argparse
import random

import torch

from engine_common import THREADS_HELP, random_text, report, small_model, timed, to_transformers
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


@torch.inference_mode()
def naive_loglikelihoods(forward, tokenizer, requests: list[LoglikelihoodRequest]) -> tuple[list[float], int]:
    """One forward per request, as lm-eval's HF backend (batch size 1); -> log-likelihoods, tokens forwarded.

    forward: ids (1, T) -> logits (1, T, vocab)."""
    results, tokens = [], 0
    for r in requests:
        context, continuation = tokenizer.encode(r.context, bos=True), tokenizer.encode(r.continuation)
        ids = torch.tensor([context + continuation])[:, :-1]  # (1, T)
        logprobs = torch.log_softmax(forward(ids)[0].float(), dim=-1)  # (T, vocab)
        picked = logprobs[len(context) - 1:].gather(1, torch.tensor(continuation)[:, None])
        results.append(float(picked.double().sum()))
        tokens += ids.shape[1]
    return results, tokens


def compare(docs: list[list[LoglikelihoodRequest]], title: str, batch_size: int | str = "auto") -> None:
    loaded = small_model()
    hf = to_transformers(loaded.model)
    requests = [r for doc in docs for r in doc]
    times: dict[str, float] = {}
    engine = Engine(loaded, batch_size=batch_size)
    transformers_forward, own_forward = (lambda ids: hf(ids).logits), loaded.model
    for forward in (transformers_forward, own_forward):  # warm everything up: first calls allocate
        naive_loglikelihoods(forward, loaded.tokenizer, requests[:1])
    engine.loglikelihood(requests[:1])
    engine.stats = type(engine.stats)()
    with timed(times, "baseline"):
        base, base_tokens = naive_loglikelihoods(transformers_forward, loaded.tokenizer, requests)
    with timed(times, "own model, per request"):
        naive_loglikelihoods(own_forward, loaded.tokenizer, requests)
    with timed(times, "engine"):
        ours = [r.loglikelihood for r in engine.loglikelihood(requests)]

    def predictions(values: list[float]) -> list[int]:
        it = iter(values)
        return [max(range(len(doc)), key=lambda i, row=[next(it) for _ in doc]: row[i]) for doc in docs]

    same = predictions(base) == predictions(ours)
    worst = max(abs(a - b) for a, b in zip(base, ours))
    report(title, [("tokens forwarded", base_tokens, engine.stats.tokens_forwarded),
                   ("wall seconds", times["baseline"], times["engine"]),
                   ("  same, own model naive", times["own model, per request"], times["engine"])])
    print(f"  identical predictions: {same} ({len(docs)} questions); max |loglik diff| {worst:.2e}; "
          f"engine stats {engine.stats.as_dict()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=25, help="200 in the issue; 25 fits 2 CPU cores")
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    torch.set_grad_enabled(False)
    compare(workload(args.questions, (120, 180), (15, 25), 4),
            f"HellaSwag-shaped: {args.questions} questions x 4 choices, small preset, {torch.get_num_threads()} threads",
            batch_size)


if __name__ == "__main__":
    main()
