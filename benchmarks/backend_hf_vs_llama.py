"""The `hf` backend vs the bundled `llama` backend on the same weights: scoring and greedy generation.

Both answer the same plain requests on the "small" preset with random weights (engine_common.py), the
hf backend through transformers' LlamaForCausalLM holding the same tensors and an HF tokenizer that
reads the same space-separated ids. Scoring is HellaSwag-shaped (a ~150-token context, 4 choices of
~20 tokens) and MMLU-shaped (~600-token 5-shot prompts, 3 questions per subject sharing the shots,
4 one-token answers); generation is greedy, 32 new tokens after a ~100-token prompt. Printed: each
backend's throughput, the ratio llama/hf, and whether the answers agree (log-likelihoods, same text).

    .venv/bin/python benchmarks/backend_hf_vs_llama.py --questions 16 --mmlu 6 --prompts 8
"""
from __future__ import annotations

import argparse
import random
import time

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from engine_common import BOS, THREADS_HELP, random_text, small_model, to_transformers
from engine_hellaswag import workload as hellaswag
from engine_mmlu import workload as mmlu
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
    parser.add_argument("--mmlu", type=int, default=6, help="MMLU-shaped questions (3 per subject)")
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
    workloads = {"hellaswag": [r for doc in hellaswag(args.questions, (120, 180), (15, 25), 4) for r in doc],
                 "mmlu": [r for doc in mmlu(args.mmlu, 3) for r in doc]}
    rng = random.Random(1)
    prompts = [GenerateRequest(random_text(rng, rng.randint(90, 110)).strip(), max_new_tokens=NEW_TOKENS)
               for _ in range(args.prompts)]
    for backend in (engine, hf):  # warm up: first calls allocate
        backend.loglikelihood(workloads["hellaswag"][:4])
        backend.generate([GenerateRequest(prompts[0].context, max_new_tokens=2)])

    runs = {}  # (workload, backend) -> (answers, seconds)
    for name, backend in (("llama", engine), ("hf", hf)):
        for shape, requests in workloads.items():
            runs[shape, name] = timed(lambda: backend.loglikelihood(requests))
        runs["greedy", name] = timed(lambda: backend.generate(prompts))
    print(f"small preset (dim 512, 8 layers, vocab 32000), random weights, {torch.get_num_threads()} thread(s)")
    counts = {shape: (sum(len(engine.tokenizer.encode(r.context + r.continuation)) for r in requests), "request tokens/s")
              for shape, requests in workloads.items()}
    counts["greedy"] = (sum(len(t.split()) for r in runs["greedy", "llama"][0] for t in r.texts), "new tokens/s")
    for shape, (count, unit) in counts.items():
        llama, hf_rate = count / runs[shape, "llama"][1], count / runs[shape, "hf"][1]
        if shape == "greedy":
            agree = f"identical text {runs[shape, 'llama'][0] == runs[shape, 'hf'][0]}"
        else:
            agree = "max |loglik diff| {:.1e}".format(max(abs(a.loglikelihood - b.loglikelihood) for a, b in
                                                        zip(runs[shape, "llama"][0], runs[shape, "hf"][0])))
        print(f"  {shape:<10} llama {llama:>7,.0f}  hf {hf_rate:>7,.0f} {unit:<17} ratio llama/hf "
              f"{llama / hf_rate:5.2f}x   {agree}")


if __name__ == "__main__":
    main()
