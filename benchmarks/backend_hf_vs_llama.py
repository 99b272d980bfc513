"""The `hf` backend vs the bundled `llama` backend on the same weights: scoring and greedy generation.

Both answer the same plain requests on the "small" preset with random weights (engine_common.py), the
hf backend through transformers' LlamaForCausalLM holding the same tensors and an HF tokenizer that
reads the same space-separated ids. Scoring is HellaSwag-shaped (a ~150-token context, 4 choices of
~20 tokens); generation is greedy, 32 new tokens after a ~100-token prompt. Printed: each backend's
throughput, the ratio llama/hf, and whether the answers agree (log-likelihoods within 1e-4, same text).

    .venv/bin/python benchmarks/backend_hf_vs_llama.py --questions 16 --prompts 8
"""
from __future__ import annotations

import argparse
import random
import time

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from engine_common import BOS, THREADS_HELP, random_text, small_model, to_transformers
from engine_hellaswag import workload
from evalkit.backends.base import BackendOptions
from evalkit.backends.hf import HFBackend
from evalkit.backends.hf_loading import wrap
from evalkit.backends.hf_tokenizer import HFTokenizer
from evalkit.engine import Engine
from evalkit.requests import GenerateRequest

NEW_TOKENS = 32


def id_tokenizer(vocab_size: int) -> transformers.PreTrainedTokenizerFast:
    """A transformers tokenizer that reads and writes text as engine_common.IdTokenizer does; no EOS."""
    vocab = {str(i): i for i in range(vocab_size)} | {"<s>": BOS}
    del vocab[str(BOS)]
    backend = Tokenizer(models.WordLevel(vocab, unk_token="0"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16, help="HellaSwag-shaped questions (4 choices each)")
    parser.add_argument("--prompts", type=int, default=8, help="greedy generation prompts")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    loaded = small_model()
    model = to_transformers(loaded.model)
    engine = Engine(loaded)
    options = BackendOptions(model="small")
    hf = HFBackend(wrap(model), HFTokenizer(id_tokenizer(loaded.config.vocab_size), "small"), options,
                   loaded.fingerprint, loaded.config.max_seq_len, transformers.__version__)
    requests = [r for doc in workload(args.questions, (120, 180), (15, 25), 4) for r in doc]
    rng = random.Random(1)
    prompts = [GenerateRequest(random_text(rng, rng.randint(90, 110)).strip(), max_new_tokens=NEW_TOKENS)
               for _ in range(args.prompts)]
    for backend in (engine, hf):  # warm up: first calls allocate
        backend.loglikelihood(requests[:4])
        backend.generate([GenerateRequest(prompts[0].context, max_new_tokens=2)])

    scored = {}
    generated = {}
    for name, backend in (("llama", engine), ("hf", hf)):
        scored[name] = timed(lambda: backend.loglikelihood(requests))
        generated[name] = timed(lambda: backend.generate(prompts))
    tokens = sum(len(engine.tokenizer.encode(r.context + r.continuation)) for r in requests)
    new_tokens = sum(len(t.split()) for r in generated["llama"][0] for t in r.texts)
    print(f"small preset (dim 512, 8 layers, vocab 32000), random weights, {torch.get_num_threads()} thread(s)")
    for what, unit, count, results in (("scoring", "request tokens/s", tokens, scored),
                                       ("greedy", "new tokens/s", new_tokens, generated)):
        llama, hf_rate = count / results["llama"][1], count / results["hf"][1]
        print(f"  {what:<8} llama {llama:>9,.0f}  hf {hf_rate:>9,.0f} {unit:<17} ratio llama/hf {llama / hf_rate:5.2f}x")
    worst = max(abs(a.loglikelihood - b.loglikelihood) for a, b in zip(scored["llama"][0], scored["hf"][0]))
    print(f"  {len(requests)} scoring requests ({tokens} tokens): max |loglik diff| {worst:.1e}; "
          f"{len(prompts)} greedy prompts x {NEW_TOKENS} tokens: identical text "
          f"{generated['llama'][0] == generated['hf'][0]}")


if __name__ == "__main__":
    main()
