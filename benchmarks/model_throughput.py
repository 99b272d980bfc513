"""Throughput of our LLaMA against transformers' LlamaForCausalLM on the same random weights (CPU).

    .venv/bin/python benchmarks/model_throughput.py [--batch 8 --seq 512 --prompt 64 --new 64 --threads 1]

Model: the "small" preset (dim 512, 8 layers, 8 heads, vocab 32000, fp32). Two workloads:
- scoring: one forward pass over a (batch, seq) block, logits at every position (loglikelihood requests);
- decoding: greedy, a (batch, prompt) prefill then `new` single-token steps; ours uses its static KV
  cache, transformers uses `generate` (its default dynamic cache). Both must produce the same tokens.
Timed runs of ours and theirs alternate (best of --repeats counts), so other load on the machine hits
both alike. Peak RSS is the process's high-water mark during one call, both models resident;
we print its growth over the RSS before the call (activations, logits, KV cache).

Measured on a quiet 2-vCPU Intel Xeon VM (AVX-512), torch 2.13 CPU, transformers 5.24, fp32:
    workload                                  threads   ours tok/s   transformers tok/s   ratio
    score  batch 8 x 512                          1          1481          1253              1.18x
    score  batch 8 x 512                          2          2657          2274              1.17x
    decode batch 8, prompt 64, 64 new             1           198           151              1.31x
    decode batch 8, prompt 64, 64 new             2           342           295              1.16x
    decode batch 8, prompt 768, 256 new           1           117            71              1.64x
Short decoding is bound by streaming the fp32 weights through the matmuls (aten::mm is 78% of our 39 ms
step at batch 8, 1 thread), which both sides pay alike, so it stays under the 1.5x target; at the
lengths evaluation decodes (8-shot GSM8k-sized prompts, hundreds of new tokens) our static cache pulls
ahead, as transformers' dynamic cache re-concatenates K/V every step while ours writes one slot.
"""
from __future__ import annotations

import argparse
import ctypes
import re
import resource
import time
from pathlib import Path

import torch

SEED = 0


def hf_model(cfg):
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
                         num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                         num_key_value_heads=cfg.kv_heads, rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta,
                         max_position_embeddings=cfg.max_seq_len, tie_word_embeddings=False)
    torch.manual_seed(SEED)
    return LlamaForCausalLM(config).eval()


def inputs(cfg, batch: int, length: int) -> torch.Tensor:
    return torch.randint(3, cfg.vocab_size, (batch, length), generator=torch.Generator().manual_seed(SEED))


def peak_rss_mb(fn) -> tuple[float, object]:
    """Run fn once; -> (peak resident memory above the RSS before it, in MB, result).

    Linux: clear_refs resets the high-water mark VmHWM to the current RSS. Elsewhere: the lifetime peak."""
    def status_mb(field: str) -> float:
        return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
    if not Path("/proc/self/clear_refs").exists():
        out = fn()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, out  # includes the weights
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, or an earlier workload's pages count
    Path("/proc/self/clear_refs").write_text("5")
    before = status_mb("VmRSS")
    out = fn()
    return status_mb("VmHWM") - before, out


def greedy_ours(model, prompt: torch.Tensor, new: int) -> torch.Tensor:
    cache = model.new_cache(prompt.shape[0], prompt.shape[1] + new)
    hidden = model.hidden_states(prompt, cache=cache)[:, -1:]  # only the last position's logits are needed
    out = [model.logits(hidden).argmax(-1)]
    for _ in range(new - 1):
        out.append(model(out[-1], cache=cache).argmax(-1))
    return torch.cat(out, dim=1)


def workloads(ours, theirs, args) -> dict[str, tuple]:
    """name -> (fn for ours, fn for transformers, tokens produced per call)."""
    block = inputs(ours.cfg, args.batch, args.seq)
    prompt = inputs(ours.cfg, args.batch, args.prompt)
    generate = dict(attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=args.new,
                    min_new_tokens=args.new, pad_token_id=0)
    return {
        f"score  (batch {args.batch} x {args.seq} tokens)":
            (lambda: ours(block), lambda: theirs(input_ids=block).logits, block.numel()),
        f"decode (batch {args.batch}, prompt {args.prompt}, {args.new} new)":
            (lambda: greedy_ours(ours, prompt, args.new),
             lambda: theirs.generate(prompt, **generate)[:, args.prompt:], args.batch * args.new),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512, help="scoring length")
    parser.add_argument("--prompt", type=int, default=64, help="decoding prompt length")
    parser.add_argument("--new", type=int, default=64, help="decoded tokens per row")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads; more than 1 on a machine that other "
                        "processes share makes OpenMP threads wait on each other (10x slower here on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from evalkit.model.config import preset
    from evalkit.model.loaders.common import build_model
    from evalkit.model.loaders.hf import to_meta

    cfg = preset("small")
    theirs = hf_model(cfg)
    ours = build_model(cfg, to_meta(theirs.state_dict(), cfg, "transformers"), "random", None, "cpu")
    print(f"small preset (dim {cfg.dim}, {cfg.n_layers} layers, vocab {cfg.vocab_size}), fp32, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    with torch.inference_mode():
        for name, (ours_fn, theirs_fn, produced) in workloads(ours, theirs, args).items():
            (mem_ours, out_ours), (mem_theirs, out_theirs) = peak_rss_mb(ours_fn), peak_rss_mb(theirs_fn)
            if name.startswith("decode"):
                assert torch.equal(out_ours, out_theirs), "greedy outputs differ"
            else:
                assert (out_ours - out_theirs).abs().max() < 1e-3, "logits differ"
            best = {"ours": float("inf"), "theirs": float("inf")}
            for _ in range(args.repeats):  # interleaved, so load from other processes hits both alike
                for who, fn in (("ours", ours_fn), ("theirs", theirs_fn)):
                    start = time.perf_counter()
                    fn()
                    best[who] = min(best[who], time.perf_counter() - start)
            rate_ours, rate_theirs = produced / best["ours"], produced / best["theirs"]
            print(f"{name}: ours {rate_ours:8.1f} tok/s, peak +{mem_ours:5.0f} MB | transformers "
                  f"{rate_theirs:8.1f} tok/s, peak +{mem_theirs:5.0f} MB | ratio {rate_ours / rate_theirs:.2f}x")


if __name__ == "__main__":
    main()
