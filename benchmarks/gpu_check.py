"""A GPU check in one run (under ten minutes on one card): the bundled model against transformers on the
same 7B-shaped random weights, then stories260K's GSM8K and a Table 3 slice end to end on the device.

    python benchmarks/gpu_check.py                       # CUDA: 7B shapes in bf16 (its memory need printed first)
    python benchmarks/gpu_check.py --device cpu --tiny   # the same script on small shapes (CI runs this)

It prints first the memory it needs (from evalkit.model.footprint: one copy of the weights, which the two
models share but for transformers' permuted q and k, the batch-64 KV cache and prefill activations of each
side), then the table one row at a time, as each is measured. A row that runs out of memory (or fails
otherwise) says so in its cells and the next row runs; the exit status is 1 when any row failed.

Rows:
- prefill tokens/s at batch 1, 8, 64 (a prompt of --prompt tokens per row, logits of the last position
  only, as generation needs): ours (model.hidden_states into a KV cache) vs LlamaForCausalLM
  (logits_to_keep=1), same weights (Meta's rotary rows permuted to HF's halves);
- decode tokens/s at the same batches, greedy, --new tokens: the engine's generate (ours, the host
  reading the decoding state every step, and every 8 steps as on accelerators by default) vs
  transformers' generate; decode time = time(--new tokens) - time(1 token), so the prefill cancels;
- a shared few-shot preamble end to end (prefill included): 64 prompts of one max(--prompt, 64)-token
  preamble and 32 own tokens each, greedy --new tokens: ours prefills the preamble once and every row
  reads it as one shared level (cascade attention), continuous batching on; transformers prefills and
  reads each prompt whole (lm-eval's way); generated tokens/s;
- peak device memory above the weights of our batch-64 prefill and decode against what the footprint
  arithmetic (the memory plan and the automatic batch budgets) counts for them;
- the SDPA kernel of each attention path, as the profiler records it, against the kernel the memory plan
  assumes (evalkit.model.footprint.attention_kernel): ours prefill, unpadded and padded decoding steps,
  packed scoring rows, cascade sampling (matrix products, no SDPA), transformers' prefill and decode; and
  what torch._fused_sdp_choice picks for grouped-query attention with and without a mask;
- one decoding step eager vs (on CUDA) replayed as a CUDA graph, at batch 1 and 64;
- agreement of the two models' logits (max |difference| over the logits' standard deviation; a wrong
  weight mapping gives about 1.4);
- GSM8K end to end with stories260K (real problems from ../shared/data): greedy and maj1@16 on the device,
  time, accuracy, and the share of documents whose samples are the CPU's;
- a Table 3 slice: stories260K on --slice-docs documents of the 8 zero-shot tasks through evalkit.evaluate
  on the device, and on the CPU for reference: the largest difference of any accuracy.
Timings are the best of --repeats after a warm-up, between device synchronizations.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's evalkit, whatever is installed

from evalkit.engine import Engine  # noqa: E402
from evalkit.model.config import PRESETS, ModelConfig  # noqa: E402
from evalkit.model.footprint import Footprint, attention_kernel  # noqa: E402
from evalkit.model.llama import Transformer  # noqa: E402
from evalkit.model.loaders import LoadedModel  # noqa: E402
from evalkit.model.row_cache import RowCache  # noqa: E402
from evalkit.model.shared_prefix import SharedPrefix  # noqa: E402
from evalkit.requests import GenerateRequest, LoglikelihoodRequest  # noqa: E402

from engine_common import BOS, IdTokenizer  # noqa: E402  (this folder: text is space-separated token ids)

BATCHES = (1, 8, 64)
TINY = ModelConfig(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=512, multiple_of=32, norm_eps=1e-5)
STORIES = REPO.parent / "shared" / "models" / "stories260K" / "stories260K.bin"
DATA = REPO.parent / "shared" / "data"
HEAD = ["check", "bundled", "bundled, host reads every 8 steps", "transformers", "bundled / transformers"]
GiB = 2**30


def size(n: float) -> str:
    """Bytes as GiB, or MiB below one GiB (the tiny shapes)."""
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / 2**20:.1f} MiB"


class Table:
    """The markdown table, printed row by row as the rows are measured; a row that fails says why."""

    def __init__(self, device: torch.device):
        self.device, self.failed = device, []
        print("| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD), flush=True)

    def row(self, label: str, measure) -> None:
        """measure() -> the row's other cells (up to 4); an error becomes the row's message."""
        try:
            cells = measure()
        except torch.OutOfMemoryError as error:
            cells = [f"out of memory: {str(error).splitlines()[0][:120]}"]
            self.failed.append(label)
        except Exception as error:  # noqa: BLE001 - one row failing must not lose the others
            cells = [f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"]
            self.failed.append(label)
        finally:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        cells = [str(c) for c in cells][:4]
        print("| " + " | ".join([label] + cells + [""] * (4 - len(cells))) + " |", flush=True)


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


def memory_need(cfg: ModelConfig, dtype_bytes: int, prompt: int, new: int) -> tuple[int, str]:
    """Bytes the check needs at most, and how they add up (footprint arithmetic, CUDA's kernels)."""
    fp = Footprint(cfg, dtype_bytes)
    weights = fp.weight_bytes
    qk = cfg.n_layers * cfg.dim * (cfg.n_heads + cfg.kv_heads) * cfg.head_dim * dtype_bytes  # transformers' q, k
    rows = BATCHES[-1]
    cache = rows * (prompt + new) * fp.kv_bytes_per_token
    prefill = rows * prompt * fp.activation_bytes_per_token(prompt)
    activations = 2 * prefill + rows * fp.decode_row_bytes  # transformers' prefill keeps about twice ours
    total = weights + qk + cache + activations
    parts = (f"weights {size(weights)} (shared by both models) + transformers' q, k {size(qk)} + KV cache of "
             f"batch {rows} x {prompt + new} slots {size(cache)} + prefill activations {size(activations)}")
    return total, parts


def build_models(cfg: ModelConfig, dtype: torch.dtype, device: torch.device):
    """transformers' LlamaForCausalLM with N(0, 0.02) matrices and unit norms, built on the device, and ours
    holding the same tensors (one copy of the weights), but for q and k rows permuted back to Meta's
    interleaved rotary pairs."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            hf = LlamaForCausalLM(LlamaConfig(
                vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
                num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.kv_heads,
                rms_norm_eps=cfg.norm_eps, max_position_embeddings=cfg.max_seq_len, tie_word_embeddings=False,
                bos_token_id=BOS, eos_token_id=None, pad_token_id=0, attn_implementation="sdpa"))
    finally:
        torch.set_default_dtype(default)
    hf = hf.to(dtype).eval().requires_grad_(False)  # a no-op unless transformers chose its own dtype
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.02) if p.ndim == 2 else p.fill_(1.0)
    with torch.device("meta"):
        ours = Transformer(cfg)
    ours.load_weights(dict(meta_named(hf, cfg)), "random", dtype, device)
    return ours.eval().requires_grad_(False), hf


def meta_named(hf, cfg: ModelConfig):
    """(our name, tensor) for each of transformers' weights; wq/wk rows from HF's rotary halves back to
    Meta's interleaved pairs (copies), every other tensor shared."""

    def interleaved(w: torch.Tensor, heads: int) -> torch.Tensor:
        rows, cols = w.shape
        return w.view(heads, 2, rows // heads // 2, cols).transpose(1, 2).reshape(rows, cols)

    yield "tok_embeddings.weight", hf.get_parameter("model.embed_tokens.weight")
    yield "norm.weight", hf.get_parameter("model.norm.weight")
    yield "output.weight", hf.get_parameter("lm_head.weight")
    for i in range(cfg.n_layers):
        p = f"model.layers.{i}."
        w = lambda name: hf.get_parameter(p + name + ".weight")  # noqa: E731
        yield f"layers.{i}.attention.wq.weight", interleaved(w("self_attn.q_proj"), cfg.n_heads)
        yield f"layers.{i}.attention.wk.weight", interleaved(w("self_attn.k_proj"), cfg.kv_heads)
        yield f"layers.{i}.attention.wv.weight", w("self_attn.v_proj")
        yield f"layers.{i}.attention.wo.weight", w("self_attn.o_proj")
        yield f"layers.{i}.feed_forward.w1.weight", w("mlp.gate_proj")
        yield f"layers.{i}.feed_forward.w3.weight", w("mlp.up_proj")
        yield f"layers.{i}.feed_forward.w2.weight", w("mlp.down_proj")
        yield f"layers.{i}.attention_norm.weight", w("input_layernorm")
        yield f"layers.{i}.ffn_norm.weight", w("post_attention_layernorm")


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


def engine(ours: Transformer, every: int = 1) -> Engine:
    loaded = LoadedModel(ours, IdTokenizer(ours.cfg.vocab_size), "random", "random", "gpu-check")
    return Engine(loaded, batch_size="auto", sync_every=every)


def texts_of(ids: torch.Tensor) -> list[str]:
    return [" ".join(str(t) for t in row[1:]) for row in ids.tolist()]  # the engine adds BOS


def prefill_row(ours: Transformer, hf, args, batch: int, device: torch.device, info: dict) -> list[str]:
    ids = prompts(ours.cfg, batch, args.prompt, device)

    def ours_prefill():
        cache = ours.new_cache(batch, args.prompt)
        return ours.logits(ours.hidden_states(ids, None, cache)[:, -1])

    def hf_prefill():
        return hf(input_ids=ids, use_cache=True, logits_to_keep=1).logits

    with torch.inference_mode():
        with peak_memory(device, info, f"ours prefill {batch}"):
            t_ours = best_time(ours_prefill, device, args.repeats)
        t_hf = best_time(hf_prefill, device, args.repeats)
    tokens = batch * args.prompt
    return [f"{tokens / t_ours:,.0f}", "", f"{tokens / t_hf:,.0f}", f"{t_hf / t_ours:.2f}x"]


def decode_row(ours: Transformer, hf, args, batch: int, device: torch.device, info: dict) -> list[str]:
    ids = prompts(ours.cfg, batch, args.prompt, device)
    texts = texts_of(ids)
    engines = {every: engine(ours, every) for every in (1, 8)}

    def ours_generate(every: int, new: int):
        return lambda: engines[every].generate([GenerateRequest(t, max_new_tokens=new) for t in texts])

    def hf_generate(new: int):
        return lambda: hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                                   min_new_tokens=new, do_sample=False, pad_token_id=0)

    dec = {}
    with torch.inference_mode():
        for every in (1, 8):
            with peak_memory(device, info, f"ours decode {batch}"):
                full = best_time(ours_generate(every, args.new), device, args.repeats)
            dec[f"ours {every}"] = full - best_time(ours_generate(every, 1), device, args.repeats)
        dec["hf"] = best_time(hf_generate(args.new), device, args.repeats) - \
            best_time(hf_generate(1), device, args.repeats)
    rate = {k: batch * (args.new - 1) / t if t > 0 else None for k, t in dec.items()}  # t <= 0: timing noise
    shown = ["n/a (noise)" if rate[k] is None else f"{rate[k]:,.0f}" for k in ("ours 1", "ours 8", "hf")]
    ratio = f"{max(rate['ours 1'], rate['ours 8']) / rate['hf']:.2f}x" if None not in rate.values() else ""
    return [*shown, ratio]


def preamble_row(ours: Transformer, hf, args, device: torch.device) -> list[str]:
    """BATCHES[-1] prompts sharing a preamble (a few-shot prompt's exemplars), 32 own tokens each, greedy
    --new tokens, end to end: ours (the preamble prefilled once, read as one shared level) vs transformers."""
    batch, preamble = BATCHES[-1], max(args.prompt, 64)  # families need >= 32 shared tokens (--tiny: 16)
    ids = prompts(ours.cfg, batch, preamble + 32, device)
    ids[:, :preamble] = ids[0, :preamble]
    texts = texts_of(ids)
    engines = {every: engine(ours, every) for every in (1, 8)}

    def ours_generate(every: int):
        return lambda: engines[every].generate([GenerateRequest(t, max_new_tokens=args.new) for t in texts])

    def hf_generate():
        return hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new,
                           min_new_tokens=args.new, do_sample=False, pad_token_id=0)

    with torch.inference_mode():
        seconds = {every: best_time(ours_generate(every), device, args.repeats) for every in (1, 8)}
        seconds["hf"] = best_time(hf_generate, device, args.repeats)
    if not engines[8].stats.prefix_tokens_reused:
        raise RuntimeError("the engine shared no preamble")
    tokens = batch * args.new
    return [f"{tokens / seconds[1]:,.0f}", f"{tokens / seconds[8]:,.0f}", f"{tokens / seconds['hf']:,.0f}",
            f"{seconds['hf'] / min(seconds[1], seconds[8]):.2f}x"]


def memory_row(ours: Transformer, args, device: torch.device, info: dict) -> list[str]:
    """Our batch-64 prefill and decode peaks above the weights against the footprint's count for them."""
    if device.type != "cuda":
        return ["n/a off CUDA (no allocator statistics)"]
    fp = Footprint(ours.cfg, ours.dtype.itemsize, 1, device.type)
    rows = BATCHES[-1]
    planned = {"prefill": rows * args.prompt * (fp.kv_bytes_per_token + fp.activation_bytes_per_token(args.prompt)),
               "decode": rows * (args.prompt + args.new) * fp.kv_bytes_per_token
               + rows * args.prompt * fp.activation_bytes_per_token(args.prompt) + rows * fp.decode_row_bytes}
    cells = []
    for phase in ("prefill", "decode"):
        measured = info.get(f"ours {phase} {rows}")
        cells.append("not measured" if measured is None else
                     f"{phase} {size(measured)} measured / {size(planned[phase])} planned "
                     f"({measured / planned[phase]:.2f})")
    return [cells[0], cells[1]]


def kernel_rows(ours: Transformer, hf, args, device: torch.device) -> list[tuple[str, list[str]]]:
    """(label, cells) per attention path: the kernels the profiler saw, and the plan's assumption."""
    cfg = ours.cfg
    gqa = cfg.kv_heads != cfg.n_heads
    ids = prompts(cfg, 8, args.prompt, device)
    plan = lambda masked: attention_kernel(device.type, gqa, masked)  # noqa: E731
    with torch.inference_mode():
        lengths = [max(2, args.prompt - 3 * i) for i in range(ids.shape[0])]  # contexts of different lengths
        scorer = engine(ours)
        paths = {
            "prefill (no padding)": (lambda: ours.hidden_states(ids, None, ours.new_cache(8, args.prompt)), False),
            "decoding step, no padding": (ours_step(ours, ids, padded=False), False),
            "decoding step, padded rows": (ours_step(ours, ids, padded=True), True),
            "packed scoring rows": (lambda: scorer.loglikelihood(
                [LoglikelihoodRequest(" ".join(str(t) for t in ids[i, 1:n].tolist()), " 5 6")
                 for i, n in enumerate(lengths)]), True),
            "sampling (cascade: matrix products)": (sampling_step(ours, ids[:1], 4), None),
        }
        rows = [(f"SDPA kernel, ours: {name}", [sdpa_ops(fn), "", "", "plan: " + ("none" if masked is None
                                                                               else plan(masked))])
                for name, (fn, masked) in paths.items()]
        rows.append(("SDPA kernel, transformers: prefill / decoding step",
                     ["", "", f"{sdpa_ops(lambda: hf(input_ids=ids, use_cache=True, logits_to_keep=1))} / "
                              f"{sdpa_ops(hf_step(hf, ids))}", ""]))
    q = torch.zeros(8, 32, 64, 128, dtype=ours.dtype, device=device)
    k = torch.zeros(8, 8, 64, 128, dtype=ours.dtype, device=device)
    mask = torch.ones(8, 1, 64, 64, dtype=torch.bool, device=device).tril()
    names = {"FLASH_ATTENTION": "flash", "EFFICIENT_ATTENTION": "memory-efficient", "CUDNN_ATTENTION": "cuDNN",
             "MATH": "math"}
    choice = lambda m: names.get(torch.nn.attention.SDPBackend(  # noqa: E731
        torch._fused_sdp_choice(q, k, k, m, 0.0, m is None, enable_gqa=True)).name, "other")
    rows.append(("SDPA choice, grouped-query attention (32 / 8 heads): no mask / mask",
                 [f"{choice(None)} / {choice(mask)}", "", "",
                  f"plan: {attention_kernel(device.type, True, False)} / {attention_kernel(device.type, True, True)}"]))
    return rows


def sampling_step(model: Transformer, ids: torch.Tensor, samples: int):
    """One decoding step of `samples` rows reading the prompt's slots as a shared prefix (cascade attention),
    each row in a cache of its own slots, as the engine's decode loop runs it (engine/generation.py)."""
    cfg, device = model.cfg, ids.device
    cache = model.new_cache(1, ids.shape[1])
    model.hidden_states(ids, None, cache)
    rows = torch.arange(samples, device=device)
    own = RowCache(cfg.n_layers, samples, model.kv_heads, cfg.head_dim, 4, model.dtype, device)
    own.start(rows, cache.next_pos.expand(samples))
    own.prefix = SharedPrefix.of(cache.k, cache.v, cache.valid, torch.zeros(samples, dtype=torch.long, device=device))
    step = ids[:, -1:].expand(samples, 1)
    real = torch.ones(samples, 1, dtype=torch.bool, device=device)
    return lambda: model.hidden_states(step, real, own)


def ours_step(model: Transformer, ids: torch.Tensor, padded: bool):
    """One decoding step after a prefill of ids, as the engine runs it: rows without padding (no mask),
    or left-padded rows (a real-token mask after a cache)."""
    cache = model.new_cache(ids.shape[0], ids.shape[1] + 1)
    mask = torch.ones_like(ids, dtype=torch.bool)
    if padded:
        mask[1:, :3] = False
    model.hidden_states(ids, mask, cache)
    step = ids[:, -1:]
    return lambda: model.hidden_states(step, None, cache)


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

        if device.type != "cuda":
            return [f"{per_step(step):.2f} / n/a on the CPU"]
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
            return [f"{per_step(step):.2f} / capture failed: {type(error).__name__}: "
                    f"{str(error).splitlines()[0][:80]}"]
        eager, replay = per_step(step), per_step(graph.replay)
    return [f"{eager:.2f} / {replay:.2f}", "", "", f"a graph saves {1 - replay / eager:.0%} of a step"]


def agreement(ours: Transformer, hf, device: torch.device) -> float:
    """max |ours - transformers| over the logits' standard deviation, on one 64-token prompt."""
    ids = prompts(ours.cfg, 1, 64, device)
    with torch.inference_mode():
        a, b = ours(ids).float(), hf(input_ids=ids).logits.float()
    return float((a - b).abs().max() / a.std())


def gsm8k_rows(args, device: torch.device) -> list[tuple[str, object]]:
    """(label, measure) for greedy GSM8K and maj1@16 with stories260K on the device against the CPU."""
    import evalkit

    def run(task: str, on: str, out: Path) -> tuple[dict, list[str], float]:
        start = time.perf_counter()
        doc = evalkit.evaluate(model=str(STORIES), tasks=task, data_dir=str(args.data_dir), limit=args.gsm8k_docs,
                               device=on, no_progress=True, output_dir=str(out), **(
                                   {"n_samples": 16} if "maj" in task else {}))
        seconds = time.perf_counter() - start
        lines = (out / "samples" / f"{task}.jsonl").read_text().splitlines()
        return doc["results"][task], [json.dumps(json.loads(line).get("generations", json.loads(line)),
                                                 sort_keys=True) for line in lines], seconds

    def measure(task: str):
        def cells() -> list[str]:
            with tempfile.TemporaryDirectory() as folder:
                results, samples, seconds = run(task, str(device), Path(folder) / "device")
                metric = next(k for k in results if not k.endswith("stderr") and k != "n")
                if device.type == "cpu":
                    return [f"{metric} {results[metric]:.4f} in {seconds:.1f} s", "", "", "the device is the CPU"]
                cpu, cpu_samples, _ = run(task, "cpu", Path(folder) / "cpu")
            same = sum(a == b for a, b in zip(samples, cpu_samples)) / max(1, len(samples))
            return [f"{metric} {results[metric]:.4f} in {seconds:.1f} s", "", "",
                    f"CPU {metric} {cpu[metric]:.4f}; documents with the CPU's texts {same:.0%}"]
        return cells

    n = args.gsm8k_docs
    return [(f"GSM8K greedy end to end, stories260K, {n} problems", measure("gsm8k")),
            (f"GSM8K maj1@16 end to end, stories260K, {n} problems", measure("gsm8k_maj1@k"))]


def table3_slice(docs: int, device: torch.device, data: Path) -> list[str]:
    """stories260K on `docs` documents of Table 3 on the device (and on the CPU to compare)."""
    import evalkit

    def run(on: str) -> tuple[dict, float]:
        start = time.perf_counter()
        doc = evalkit.evaluate(model=str(STORIES), suite="table3", data_dir=str(data), limit=max(1, docs // 8),
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
    return [f"mean acc {mean:.4f} in {seconds:.1f} s ({count} documents of {len(results)} tasks)", "", "",
            reference]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small shapes and few tokens (the CPU test)")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    parser.add_argument("--prompt", type=int, help="prompt tokens per row (default 512; --tiny 16)")
    parser.add_argument("--new", type=int, help="decoded tokens per row (default 64; --tiny 16)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs after the warm-up; the best counts")
    parser.add_argument("--slice-docs", type=int, default=200, help="Table 3 documents (0: skip)")
    parser.add_argument("--gsm8k-docs", type=int, help="GSM8K problems, greedy and maj1@16 (default 16; --tiny 1; "
                                                       "0: skip)")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="the benchmark data (default ../shared/data)")
    args = parser.parse_args()
    args.prompt = args.prompt or (16 if args.tiny else 512)
    args.new = args.new or (16 if args.tiny else 64)
    args.gsm8k_docs = args.gsm8k_docs if args.gsm8k_docs is not None else (1 if args.tiny else 16)
    device = torch.device(args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if device.type == "cpu":
        torch.set_num_threads(min(4, torch.get_num_threads()))
    cfg = TINY if args.tiny else PRESETS["7B"]
    import transformers

    need, parts = memory_need(cfg, dtype.itemsize, args.prompt, args.new)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, transformers {transformers.__version__}, {args.dtype}, "
          f"{'tiny' if args.tiny else '7B'} shapes (dim {cfg.dim}, {cfg.n_layers} layers, vocab {cfg.vocab_size})")
    print(f"needs about {size(need)} of device memory: {parts}", flush=True)
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        print(f"this device: {size(total)}, {size(free)} free"
              + ("; rows past its memory will say out of memory" if free < need else ""), flush=True)
    print(flush=True)
    ours, hf = build_models(cfg, dtype, device)
    drift = agreement(ours, hf, device)
    if drift > 0.5:
        sys.exit(f"the two models disagree (max |logit difference| {drift:.2f} standard deviations): weights mapped wrong")
    table, info = Table(device), {}
    for batch in BATCHES:
        table.row(f"prefill tokens/s, batch {batch} x {args.prompt}",
                  lambda: prefill_row(ours, hf, args, batch, device, info))
        table.row(f"decode tokens/s, batch {batch}, {args.new} new",
                  lambda: decode_row(ours, hf, args, batch, device, info))
    table.row(f"shared preamble, {BATCHES[-1]} prompts x ({max(args.prompt, 64)} shared + 32 own), "
              f"{args.new} new: generated tokens/s end to end", lambda: preamble_row(ours, hf, args, device))
    table.row(f"peak memory above the weights, batch {BATCHES[-1]}: measured / planned",
              lambda: memory_row(ours, args, device, info))
    try:
        kernels = kernel_rows(ours, hf, args, device)
    except Exception as error:  # noqa: BLE001 - the row says why
        kernels = [("SDPA kernel per path", [f"failed: {type(error).__name__}: {str(error)[:120]}"])]
        table.failed.append("SDPA kernel per path")
    for label, cells in kernels:
        table.row(label, lambda: cells)
    for batch in (1, BATCHES[-1]):
        table.row(f"decode step ms, batch {batch}: eager / CUDA graph",
                  lambda: graph_gain(ours, batch, args.prompt, device))
    if device.type == "cuda":
        b = torch.backends.cuda
        table.row("SDPA backends enabled", lambda: [
            f"flash {b.flash_sdp_enabled()}, memory-efficient {b.mem_efficient_sdp_enabled()}, "
            f"cuDNN {b.cudnn_sdp_enabled()}, math {b.math_sdp_enabled()}"])
    table.row("logits agreement: largest difference in standard deviations", lambda: [f"{drift:.3f}"])
    del ours, hf
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if args.gsm8k_docs > 0:
        for label, measure in gsm8k_rows(args, device):
            table.row(label, measure)
    if args.slice_docs > 0:
        table.row(f"Table 3 slice on the device, stories260K, {args.slice_docs} documents",
                  lambda: table3_slice(args.slice_docs, device, args.data_dir))
    if table.failed:
        sys.exit(f"{len(table.failed)} row(s) failed: {'; '.join(table.failed)}")


if __name__ == "__main__":
    main()
