"""A GPU check in one run (under ten minutes on one GPU): the bundled model against transformers on the
same 7B-shaped random weights, then a Table 3 slice end to end on the device.

    python benchmarks/gpu_check.py                       # CUDA: 7B shapes in bf16, about 30 GB of GPU memory
    python benchmarks/gpu_check.py --device cpu --tiny   # the same script on small shapes (CI runs this)

Measured, printed as one markdown table:
- prefill tokens/s at batch 1, 8, 64 (a prompt of --prompt tokens per row, logits of the last position
  only, as generation needs): ours (model.hidden_states into a KV cache) vs LlamaForCausalLM
  (logits_to_keep=1), same weights (Meta's rotary rows permuted to HF's halves);
- decode tokens/s at the same batches, greedy, --new tokens: the engine's generate (ours, the host
  reading the decoding state every step, and every 8 steps as on accelerators by default) vs
  transformers' generate; decode time = time(--new tokens) - time(1 token), so the prefill cancels;
- peak device memory above the weights (torch.cuda.max_memory_allocated) of each side's largest batch;
- the SDPA kernel each side runs (the aten op the profiler records for a prefill and a decode step:
  flash, memory-efficient, cuDNN or math) and the backends enabled in torch.backends.cuda;
- one decoding step eager vs (on CUDA) replayed as a CUDA graph, at batch 1 and 64: what capturing the
  decode step would pay (the engine does not capture it yet; its cache grows a slot per step);
- agreement of the two models' logits (max |difference| over the logits' standard deviation; a wrong
  weight mapping gives about 1.4);
- a Table 3 slice: stories260K on --slice-docs documents of the 8 zero-shot tasks (real files from
  ../shared/data) through evalkit.evaluate on the device, and on the CPU for reference: the largest
  difference of any accuracy (0 expected: same fp32 model).
Timings are the best of --repeats after a warm-up, between device synchronizations.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's evalkit, whatever is installed

from evalkit.engine import Engine  # noqa: E402
from evalkit.model.config import PRESETS, ModelConfig  # noqa: E402
from evalkit.model.llama import Transformer  # noqa: E402
from evalkit.model.loaders import LoadedModel  # noqa: E402
from evalkit.requests import GenerateRequest  # noqa: E402

from engine_common import BOS, IdTokenizer  # noqa: E402  (this folder: text is space-separated token ids)

BATCHES = (1, 8, 64)
TINY = ModelConfig(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=512, multiple_of=32, norm_eps=1e-5)
STORIES = REPO.parent / "shared" / "models" / "stories260K" / "stories260K.bin"
DATA = REPO.parent / "shared" / "data"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up: allocations, kernel selection
    best = math.inf
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


@contextmanager
def peak_memory(device: torch.device, out: dict, key: str):
    """out[key] = peak allocated bytes above what was allocated before (None off CUDA)."""
    if device.type != "cuda":
        yield
        out[key] = None
        return
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    yield
    sync(device)
    out[key] = torch.cuda.max_memory_allocated(device) - before


def build_models(cfg: ModelConfig, dtype: torch.dtype, device: torch.device):
    """Ours with N(0, 0.02) matrices and unit norms, built on the device; transformers' with the same tensors."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            ours = Transformer(cfg)
            hf = LlamaForCausalLM(LlamaConfig(
                vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
                num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.kv_heads,
                rms_norm_eps=cfg.norm_eps, max_position_embeddings=cfg.max_seq_len, tie_word_embeddings=False,
                bos_token_id=BOS, eos_token_id=None, pad_token_id=0, attn_implementation="sdpa"))
    finally:
        torch.set_default_dtype(default)
    ours.eval().requires_grad_(False)
    hf = hf.to(dtype).eval().requires_grad_(False)  # a no-op unless transformers chose its own dtype
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.normal_(0.0, 0.02) if p.ndim == 2 else p.fill_(1.0)
        for name, tensor in hf_named(ours):
            hf.get_parameter(name).copy_(tensor)
    return ours, hf


def hf_named(model: Transformer):
    """(HF name, tensor) for each of our weights; wq/wk rows from interleaved rotary pairs to HF's halves."""
    cfg = model.cfg

    def halves(w: torch.Tensor, heads: int) -> torch.Tensor:
        rows, cols = w.shape
        return w.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)

    yield "model.embed_tokens.weight", model.tok_embeddings.weight
    yield "model.norm.weight", model.norm.weight
    yield "lm_head.weight", model.output.weight
    for i, layer in enumerate(model.layers):
        p, a, f = f"model.layers.{i}.", layer.attention, layer.feed_forward
        yield p + "self_attn.q_proj.weight", halves(a.wq.weight, cfg.n_heads)
        yield p + "self_attn.k_proj.weight", halves(a.wk.weight, cfg.kv_heads)
        yield p + "self_attn.v_proj.weight", a.wv.weight
        yield p + "self_attn.o_proj.weight", a.wo.weight
        yield p + "mlp.gate_proj.weight", f.w1.weight
        yield p + "mlp.up_proj.weight", f.w3.weight
        yield p + "mlp.down_proj.weight", f.w2.weight
        yield p + "input_layernorm.weight", layer.attention_norm.weight
        yield p + "post_attention_layernorm.weight", layer.ffn_norm.weight


def sdpa_ops(fn) -> str:
    """The scaled-dot-product-attention kernels that fn() runs, from the aten ops the profiler records."""
    names = {"flash": "flash", "efficient": "memory-efficient", "cudnn": "cuDNN", "math": "math"}
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    found = {e.name for e in prof.events() if e.name.startswith("aten::_scaled_dot_product")}
    kinds = sorted({label for op in found for key, label in names.items() if key in op})
    return "+".join(kinds) or "none recorded"


def prompts(cfg: ModelConfig, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """(batch, length) ids starting with BOS, the rest random (avoiding ids 0-2)."""
    ids = torch.randint(3, cfg.vocab_size, (batch, length), generator=torch.Generator().manual_seed(batch))
    ids[:, 0] = BOS
    return ids.to(device)


def throughput(ours: Transformer, hf, args, device: torch.device) -> tuple[list[list[str]], dict]:
    """Rows of prefill and decode tokens/s per batch; peaks and kernels of the largest batch."""
    loaded = LoadedModel(ours, IdTokenizer(ours.cfg.vocab_size), "random", "random", "gpu-check")
    engines = {every: Engine(loaded, batch_size="auto", sync_every=every) for every in (1, 8)}
    rows, info = [], {}
    for batch in BATCHES:
        ids = prompts(ours.cfg, batch, args.prompt, device)
        texts = [" ".join(str(t) for t in row[1:]) for row in ids.tolist()]  # the engine adds BOS

        def ours_prefill():
            cache = ours.new_cache(batch, args.prompt)
            return ours.logits(ours.hidden_states(ids, None, cache)[:, -1])

        def hf_prefill():
            return hf(input_ids=ids, use_cache=True, logits_to_keep=1).logits

        def ours_generate(every: int, new: int):
            return lambda: engines[every].generate([GenerateRequest(t, max_new_tokens=new) for t in texts])

        def hf_generate(new: int):
            return lambda: hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                                       min_new_tokens=new, do_sample=False, pad_token_id=0)

        with torch.inference_mode():
            with peak_memory(device, info, f"ours prefill {batch}"):
                pre = {"ours": best_time(ours_prefill, device, args.repeats)}
            with peak_memory(device, info, f"hf prefill {batch}"):
                pre["hf"] = best_time(hf_prefill, device, args.repeats)
            dec = {}
            for every in (1, 8):
                with peak_memory(device, info, f"ours decode {batch}"):
                    full = best_time(ours_generate(every, args.new), device, args.repeats)
                dec[f"ours {every}"] = full - best_time(ours_generate(every, 1), device, args.repeats)
            with peak_memory(device, info, f"hf decode {batch}"):
                full = best_time(hf_generate(args.new), device, args.repeats)
            dec["hf"] = full - best_time(hf_generate(1), device, args.repeats)
            if batch == BATCHES[-1]:
                info["sdpa ours"] = f"prefill {sdpa_ops(ours_prefill)}, decode {sdpa_ops(ours_step(ours, ids))}"
                info["sdpa hf"] = f"prefill {sdpa_ops(hf_prefill)}, decode {sdpa_ops(hf_step(hf, ids))}"
        prefill_tokens, decode_tokens = batch * args.prompt, batch * (args.new - 1)
        p_ours, p_hf = prefill_tokens / pre["ours"], prefill_tokens / pre["hf"]
        rows.append([f"prefill tokens/s, batch {batch} x {args.prompt}", f"{p_ours:,.0f}", "", f"{p_hf:,.0f}",
                     f"{p_ours / p_hf:.2f}x"])
        rate = {k: decode_tokens / t if t > 0 else None for k, t in dec.items()}  # t <= 0: lost in timing noise
        shown = ["n/a (noise)" if rate[k] is None else f"{rate[k]:,.0f}" for k in ("ours 1", "ours 8", "hf")]
        ratio = f"{max(rate['ours 1'], rate['ours 8']) / rate['hf']:.2f}x" if None not in rate.values() else ""
        rows.append([f"decode tokens/s, batch {batch}, {args.new} new", *shown, ratio])
    return rows, info


def ours_step(model: Transformer, ids: torch.Tensor):
    """One decoding step after a prefill of ids, as the engine runs it (a real-token mask after a cache)."""
    cache = model.new_cache(ids.shape[0], ids.shape[1] + 1)
    model.hidden_states(ids, None, cache)
    step = ids[:, -1:]
    return lambda: model.hidden_states(step, torch.ones_like(step, dtype=torch.bool), cache)


def hf_step(hf, ids: torch.Tensor):
    """One decoding step of transformers after a prefill of ids (its cache, as generate keeps it). The
    cache argument is `cache` from transformers 5.2x on, `past_key_values` before."""
    import inspect
    out = hf(input_ids=ids, use_cache=True, logits_to_keep=1)
    name = "cache" if "cache" in inspect.signature(hf.forward).parameters else "past_key_values"
    past = getattr(out, "cache", None) or out.past_key_values
    return lambda: hf(input_ids=ids[:, -1:], use_cache=True, **{name: past})


def graph_gain(model: Transformer, batch: int, prompt: int, device: torch.device, steps: int = 20) -> list[str]:
    """One decoding step eager vs replayed as a CUDA graph (no kernel launches from Python): what capturing
    the decode step would pay at this batch. The same step is replayed (cache length and positions reset
    before each), since the engine's cache grows a slot per step and a graph needs fixed shapes."""
    ids = prompts(model.cfg, batch, prompt, device)
    cache = model.new_cache(batch, prompt + 1)
    with torch.inference_mode():
        model.hidden_states(ids, None, cache)
        token, mask = ids[:, -1:], torch.ones(batch, 1, dtype=torch.bool, device=device)
        length, positions = cache.length, cache.next_pos.clone()

        def step():
            cache.length = length
            cache.next_pos.copy_(positions)
            return model.logits(model.hidden_states(token, mask, cache)[:, -1])

        def per_step(fn) -> float:
            return best_time(lambda: [fn() for _ in range(steps)], device, 2) / steps * 1e3

        label = f"decode step ms, batch {batch}: eager / CUDA graph"
        if device.type != "cuda":
            return [label, f"{per_step(step):.2f} / n/a on the CPU", "", "", ""]
        try:
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
        except Exception as error:  # noqa: BLE001 - report why, the other checks still run
            return [label, f"{per_step(step):.2f} / capture failed: {type(error).__name__}: "
                           f"{str(error).splitlines()[0][:80]}", "", "", ""]
        eager, replay = per_step(step), per_step(graph.replay)
    return [label, f"{eager:.2f} / {replay:.2f}", "", "", f"a graph saves {1 - replay / eager:.0%} of a step"]


def agreement(ours: Transformer, hf, device: torch.device) -> float:
    """max |ours - transformers| over the logits' standard deviation, on one 64-token prompt."""
    ids = prompts(ours.cfg, 1, 64, device)
    with torch.inference_mode():
        a, b = ours(ids).float(), hf(input_ids=ids).logits.float()
    return float((a - b).abs().max() / a.std())


def table3_slice(docs: int, device: torch.device) -> list[str]:
    """stories260K on `docs` documents of Table 3 on the device (and on the CPU to compare)."""
    import evalkit

    def run(on: str) -> tuple[dict, float]:
        start = time.perf_counter()
        doc = evalkit.evaluate(model=str(STORIES), suite="table3", data_dir=str(DATA), limit=max(1, docs // 8),
                               device=on, no_progress=True)
        return doc["results"], time.perf_counter() - start

    results, seconds = run(str(device))
    accuracies = {(t, k): v for t, m in results.items() for k, v in m.items() if k.startswith("acc") and "stderr" not in k}
    mean = sum(v for (t, k), v in accuracies.items() if k == "acc") / len(results)
    count = sum(m["n"] for m in results.values())
    if device.type == "cpu":
        reference = "the device is the CPU"
    else:
        cpu, _ = run("cpu")
        diff = max(abs(v - cpu[t][k]) for (t, k), v in accuracies.items())
        reference = f"max |acc difference| vs CPU {diff:.4f}"
    return [f"Table 3 slice on the device, stories260K, {count} documents of {len(results)} tasks",
            f"mean acc {mean:.4f} in {seconds:.1f} s", "", "", reference]


def memory(info: dict, who: str, batch: int) -> str:
    peaks = [info[f"{who} {phase} {batch}"] for phase in ("prefill", "decode")]
    return " / ".join("n/a" if p is None else f"{p / 2**30:.2f} GiB" for p in peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small shapes and few tokens (the CPU test)")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    parser.add_argument("--prompt", type=int, help="prompt tokens per row (default 512; --tiny 16)")
    parser.add_argument("--new", type=int, help="decoded tokens per row (default 64; --tiny 16)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs after the warm-up; the best counts")
    parser.add_argument("--slice-docs", type=int, default=200, help="Table 3 documents (0: skip)")
    args = parser.parse_args()
    args.prompt = args.prompt or (16 if args.tiny else 512)
    args.new = args.new or (16 if args.tiny else 64)
    device = torch.device(args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if device.type == "cpu":
        torch.set_num_threads(min(4, torch.get_num_threads()))
    cfg = TINY if args.tiny else PRESETS["7B"]
    import transformers

    ours, hf = build_models(cfg, dtype, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, transformers {transformers.__version__}, {args.dtype}, "
          f"{'tiny' if args.tiny else '7B'} shapes (dim {cfg.dim}, {cfg.n_layers} layers, vocab {cfg.vocab_size})\n")
    drift = agreement(ours, hf, device)
    if drift > 0.5:
        sys.exit(f"the two models disagree (max |logit difference| {drift:.2f} standard deviations): weights mapped wrong")
    rows, info = throughput(ours, hf, args, device)
    largest = BATCHES[-1]
    rows.append([f"peak memory above the weights, batch {largest} (prefill / decode)",
                 memory(info, "ours", largest), "", memory(info, "hf", largest), ""])
    rows.append(["SDPA kernel", info["sdpa ours"], "", info["sdpa hf"], ""])
    rows.extend(graph_gain(ours, batch, args.prompt, device) for batch in (1, BATCHES[-1]))
    if device.type == "cuda":
        b = torch.backends.cuda
        rows.append(["SDPA backends enabled", f"flash {b.flash_sdp_enabled()}, memory-efficient "
                     f"{b.mem_efficient_sdp_enabled()}, cuDNN {b.cudnn_sdp_enabled()}, math {b.math_sdp_enabled()}",
                     "", "", ""])
    rows.append(["logits agreement: largest difference in standard deviations", f"{drift:.3f}", "", "", ""])
    if args.slice_docs > 0:
        rows.append(table3_slice(args.slice_docs, device))
    head = ["check", "bundled", "bundled, host reads every 8 steps", "transformers", "bundled / transformers"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
