"""`plan`: will a model fit, on how many tensor-parallel ranks, and the command that runs it.

Reads only the checkpoint's config (or a preset: 7B, 13B, 33B, 65B, small, tiny); the figures and
their formulas are evalkit.model.memory_plan's and evalkit.model.footprint's. Prints a table (or
--json) and the `torchrun ... --tensor-parallel T` command for the smallest T that fits.
"""
from __future__ import annotations

import json

from tabulate import tabulate

from evalkit.dtype_names import DTYPES, dtype_name
from evalkit.errors import UsageError
from evalkit.model.footprint import DTYPE_BYTES, paper_count
from evalkit.model.memory_plan import HEADROOM, MemoryPlan, parse_size, plan_memory


def add_parser(sub) -> None:
    parser = sub.add_parser("plan", help="memory per device (weights, KV cache, activations) and the smallest "
                                         "tensor-parallel degree that fits, from the config alone")
    parser.add_argument("--model", required=True, help="a preset (7B, 13B, 33B, 65B, small, tiny), a llama2.c "
                                                       ".bin, a Meta or Hugging Face folder")
    parser.add_argument("--dtype", default="bfloat16", type=dtype_name, choices=[d for d in DTYPES if d != "auto"],
                        help="weights and KV cache dtype (bf16, fp32, fp16 are read as bfloat16, float32, float16, "
                             "the names `run` prints)")
    parser.add_argument("--device-memory", default="80GB", help="memory of one device (GB = 10^9 bytes, GiB = 2^30)")
    parser.add_argument("--max-batch-tokens", type=int, metavar="N",
                        help="KV-cache slots and forwarded tokens of one batch (default: --samples full windows)")
    parser.add_argument("--samples", type=int, default=1, help="samples per prompt (n; e.g. 256 for MATH maj1@k)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from evalkit.model.loaders.config_only import model_config

    device_memory = parse_size(args.device_memory)
    cfg = model_config(args.model)
    plan = plan_memory(cfg, DTYPE_BYTES[args.dtype], args.dtype, device_memory, args.max_batch_tokens, args.samples)
    if plan.chosen is None:
        last = plan.ranks[-1]
        raise UsageError(f"plan: {args.model} needs {gb(last.total)} per device on {last.tp} ranks, over "
                         f"{gb(last.usable)} usable of {gb(device_memory)}; lower --max-batch-tokens or use "
                         f"larger devices")
    command = run_command(args.model, args.dtype, plan.chosen.tp)
    if args.json:
        print(json.dumps(as_json(plan, command), indent=2))
    else:
        print(render(plan, args.model, command))
    return 0


def gb(size: int) -> str:
    """Bytes in SI units (GB = 10^9), the unit chosen by size."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size} B"


def run_command(model: str, dtype: str, tp: int) -> str:
    flags = f"run_eval.py run --model {model} --dtype {dtype} --device cuda --tasks TASKS --output-dir OUT"
    if tp == 1:
        return f"python {flags}"
    return f"torchrun --nproc_per_node {tp} {flags} --tensor-parallel {tp}"


def render(plan: MemoryPlan, model: str, command: str) -> str:
    cfg = plan.cfg
    head = (f"{model}: {paper_count(plan.params)} parameters ({plan.params:,}), dim {cfg.dim}, {cfg.n_layers} "
            f"layers, {cfg.n_heads} heads ({cfg.kv_heads} KV), ffn {cfg.ffn_dim}, vocab {cfg.vocab_size}, "
            f"{plan.dtype}\nKV cache: {plan.kv_bytes_per_token / 2**20:.3f} MiB per token (T = 1); batch of "
            f"{plan.batch_tokens:,} tokens ({plan.samples} sample(s) per prompt); device {gb(plan.device_memory)}, "
            f"{HEADROOM:.0%} kept free\nattention with a mask (packed scoring, padded rows) runs SDPA's "
            f"{plan.attention} kernel on CUDA{': its score matrix is counted' if plan.attention == 'math' else ''}")
    rows = [[r.tp, gb(r.weights), gb(r.kv_cache), gb(r.activations), gb(r.total), gb(r.usable),
             "yes" if r.fits else "no"] for r in plan.ranks]
    table = tabulate(rows, ["T", "weights/rank", "KV cache/rank", "activations/rank", "total/rank", "usable",
                            "fits"], tablefmt="simple", disable_numparse=True)
    chosen = plan.chosen
    spare = (f"left on each rank after the weights: {gb(chosen.usable - chosen.weights)} = {chosen.spare_slots:,} "
             f"KV-cache slots ({chosen.spare_slots // cfg.max_seq_len:,} full {cfg.max_seq_len}-token windows)")
    return f"{head}\n\n{table}\n\nsmallest T: {chosen.tp}; {spare}\n{command}"


def as_json(plan: MemoryPlan, command: str) -> dict:
    cfg = plan.cfg
    return {"params": plan.params, "params_paper": paper_count(plan.params), "dtype": plan.dtype,
            "config": {"dim": cfg.dim, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "n_kv_heads": cfg.kv_heads,
                       "ffn_dim": cfg.ffn_dim, "vocab_size": cfg.vocab_size, "max_seq_len": cfg.max_seq_len},
            "device_memory": plan.device_memory, "headroom": HEADROOM, "batch_tokens": plan.batch_tokens,
            "samples": plan.samples, "kv_bytes_per_token": plan.kv_bytes_per_token,
            "masked_attention_kernel": plan.attention,
            "ranks": [{"tp": r.tp, "weights": r.weights, "kv_cache": r.kv_cache, "activations": r.activations,
                       "total": r.total, "usable": r.usable, "fits": r.fits, "spare_kv_slots": r.spare_slots}
                      for r in plan.ranks],
            "tensor_parallel": plan.chosen.tp, "command": command}
