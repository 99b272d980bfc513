"""How long the running rows wait per token while long prompts join a generation batch (issue 23:
"a waiting prompt's prefill joins the running batch, chunked so a step stays short").

A 900-token prompt decodes 120 tokens; beside it, 7 prompts of 810-870 tokens and 7-13 new tokens each,
in rows of 4, so that as rows end the waiting prompts join the running batch. A decoding step is a
forward holding the rows' tokens; a joiner's prefill forwarded between two steps counts in the earlier
one. Printed: wall and CPU seconds, the longest step (CPU seconds, and most tokens forwarded in one
step), the median step, forwards, and a hash of the texts (equal before and after). The model is the
"small" preset (random weights) with stories260K's 512-token vocabulary, one thread, fp32.
`--before DIR` runs the same in another checkout (a subprocess importing its evalkit) first.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/join_step_latency.py --before /tmp/base
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO.parent / "shared" / "models" / "stories260K" / "tok512.model"


def story(tokenizer, name: str, tokens: int) -> str:
    text, i = "", 0
    while len(tokenizer.encode(text, bos=True)) < tokens:
        thing = ["ball", "cat", "tree", "car", "bird"][i % 5]
        text += f"{name} saw a {['red', 'big', 'small', 'blue'][i % 4]} {thing}. "
        i += 1
    return text


def measure(label: str, checkout: Path) -> None:
    sys.path.insert(0, str(checkout))  # that checkout's evalkit, whatever is installed
    from evalkit.engine.batching import BatchPolicy
    from evalkit.engine.generation import generate
    from evalkit.engine.stats import EngineStats
    from evalkit.model.config import preset
    from evalkit.model.llama import Transformer
    from evalkit.requests import GenerateRequest
    from evalkit.tokenizer import Tokenizer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Transformer(preset("small").with_(vocab_size=512)).eval()
    tokenizer = Tokenizer(str(TOKENIZER))
    names = ["Tom", "Lily", "Ben", "Sue", "Max", "Mia", "Sam", "Zoe"]
    requests = [GenerateRequest(story(tokenizer, names[0], 900), max_new_tokens=120)]
    requests += [GenerateRequest(story(tokenizer, names[i], 880 - 10 * i), max_new_tokens=6 + i) for i in range(1, 8)]
    prompts = {r: (tokenizer.encode(r.context, bos=True), r.max_new_tokens) for r in requests}
    events = []  # each forward: (CPU seconds at its start, tokens, whether it holds the decoding rows)

    def seen(module, args):
        shape = args[0].shape[:-1]  # (rows, tokens), or (tokens,) for chunks stacked with a step
        events.append((time.process_time(), shape.numel(), len(shape) == 1 or shape[1] == 1))

    model.layers[0].attention.wq.register_forward_pre_hook(seen)
    stats = EngineStats()
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        texts = generate(model, tokenizer, prompts, BatchPolicy(4, 1 << 30, False), stats, {}, 1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events.append((time.process_time(), 0, True))
    steps = [i for i, event in enumerate(events) if event[2]]
    spans = [(events[b][0] - events[a][0], sum(e[1] for e in events[a:b])) for a, b in zip(steps, steps[1:])]
    digest = hashlib.sha1(json.dumps([texts[r] for r in requests]).encode()).hexdigest()[:12]
    print(f"{label}: wall {wall:.2f} s, CPU {cpu:.2f} s, {len(spans)} steps, longest step "
          f"{max(s for s, _ in spans) * 1e3:.0f} ms CPU, most tokens in a step {max(t for _, t in spans)}, "
          f"median step {statistics.median(s for s, _ in spans) * 1e3:.0f} ms CPU, forwards {stats.forward_calls}, "
          f"texts {digest}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another evalkit checkout to time first")
    parser.add_argument("--checkout", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.before is not None:
        subprocess.run([sys.executable, __file__, "--checkout", str(args.before.resolve())], check=True)
    measure(f"evalkit {args.checkout}", args.checkout)


if __name__ == "__main__":
    main()
