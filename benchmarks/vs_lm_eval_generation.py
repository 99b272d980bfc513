"""evalkit's gsm8k against lm-evaluation-harness's own gsm8k_cot (its HF backend), end to end: generation.

Both harnesses get the same model folder (the "small" preset with random weights in transformers'
format: hf_checkpoint.py), the same documents (../shared/data/gsm8k/test.jsonl, the first --limit), the
same dtype and batch size, greedy decoding, at most 256 new tokens. lm-eval runs its installed
gsm8k-cot.yaml (8-shot chain of thought, the exemplars of Wei et al.) with only the data source and the
stop strings changed to evalkit's ("\\n\\n", "Q:"), so both stop at the same text. Each run is one process
timed from start to exit. Printed (markdown): wall and CPU seconds per side and their ratio; the prompts
and generations that are identical; tokens forwarded per generated token (evalkit: its `cost`; lm-eval:
from its batches, each row of a batch forwarded for the batch's longest prompt and longest generation,
as transformers' `generate` does; an estimate); and evalkit's generated tokens/s (the task's seconds,
prefill included) against the rate a plain F.linear of --batch-size rows through the model's weight
shapes allows (each decoding step reads every weight once for the whole batch).

Installs nothing: needs lm-eval (`pip install 'evalkit[bench]'`); without it, exits 2 saying so.

    .venv/bin/python benchmarks/vs_lm_eval_generation.py --limit 16 --batch-size 8
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

from vs_lm_eval import REPO, add_shared_arguments, linear_seconds, lm_eval_version, prepare, timed  # beside this file

UNTIL = ["\n\n", "Q:"]  # evalkit's gsm8k stop strings (tasks/gsm8k.py)
MAX_NEW_TOKENS = 256


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=16, help="first N GSM8K test problems")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--batch-size", type=int, default=8, help="both harnesses' batch size")
    parser.add_argument("--before", type=Path, help="another evalkit checkout (e.g. `git worktree` of an older "
                                                    "commit) timed on the same work, for a before/after row")
    add_shared_arguments(parser)
    return parser.parse_args(argv)


def write_task(data: Path, out: Path) -> str:
    """lm-eval's gsm8k_cot reading the local test file, stopping at evalkit's stop strings -> its name."""
    import lm_eval
    base = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k-cot.yaml"
    out.mkdir(parents=True, exist_ok=True)
    fields = {"include": str(base), "task": "gsm8k_cot_local", "tag": [], "dataset_path": "json",
              "dataset_name": None, "dataset_kwargs": {"data_files": {"test": str(data / "gsm8k" / "test.jsonl")}},
              "generation_kwargs": {"until": UNTIL, "do_sample": False, "max_gen_toks": MAX_NEW_TOKENS}}
    (out / "gsm8k_cot_local.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items()))
    return "gsm8k_cot_local"


def commands(args, model: Path, task_dir: Path, out: Path) -> dict[str, list[str]]:
    evalkit = ["run", "--model", str(model), "--tasks", "gsm8k", "--data-dir", str(args.data), "--limit",
               str(args.limit), "--batch-size", str(args.batch_size), "--dtype", args.dtype, "--no-progress"]
    before = {"evalkit before": [sys.executable, str(args.before / "run_eval.py"), *evalkit, "--output-dir",
                                 str(out / "before")]} if args.before else {}
    return before | {
        "lm-eval": [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                    f"pretrained={model},dtype={args.dtype}", "--tasks", "gsm8k_cot_local", "--include_path",
                    str(task_dir), "--limit", str(args.limit), "--batch_size", str(args.batch_size),
                    "--device", "cpu", "--log_samples", "--output_path", str(out / "lm_eval")],
        "evalkit": [sys.executable, str(REPO / "run_eval.py"), *evalkit, "--output-dir", str(out / "evalkit")],
    }


def evalkit_samples(out: Path) -> list[tuple[str, str]]:
    """(prompt, generation) per document, in document order."""
    rows = [json.loads(line) for line in (out / "samples" / "gsm8k.jsonl").read_text().splitlines()]
    return [(r["prompt"], r["completion"]) for r in sorted(rows, key=lambda r: r["doc_id"])]


def lm_eval_samples(out: Path) -> list[tuple[str, str]]:
    """(prompt, generation) per document, in document order (lm-eval logs a document once per filter)."""
    path = next(out.rglob("samples_gsm8k_cot_local_*.jsonl"))
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        rows.setdefault(row["doc_id"], (row["arguments"]["gen_args_0"]["arg_0"], row["resps"][0][0]))
    return [rows[i] for i in sorted(rows)]


def lm_eval_forwarded(samples: list[tuple[str, str]], model: Path, batch: int) -> tuple[int, int]:
    """(tokens forwarded, tokens generated) by lm-eval's batches, estimated: it sorts requests longest
    prompt first; each batch forwards every row for the longest prompt and then one token per row and step
    until its longest generation (plus the stop string's tokens, at most the budget) ends."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model)
    sizes = sorted(((len(tok(p).input_ids), len(tok(g, add_special_tokens=False).input_ids)) for p, g in samples),
                   reverse=True)
    forwarded = 0
    for i in range(0, len(sizes), batch):
        part = sizes[i:i + batch]
        steps = min(MAX_NEW_TOKENS, max(g for _, g in part) + 2)  # the stop string's tokens, about 2
        forwarded += len(part) * (max(p for p, _ in part) + steps)
    return forwarded, sum(g for _, g in sizes)


def matmul_rate(model: Path, dtype: str, rows: int, threads: int) -> float:
    """Tokens/s a decoding step of `rows` rows allows if it only multiplied by every weight once:
    F.linear of `rows` rows through a layer's seven shapes times the layers, and the output layer."""
    import torch
    cfg = json.loads((model / "config.json").read_text())
    dim, ffn, layers, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    kv = dim // cfg["num_attention_heads"] * cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    shapes = [(dim, dim), (kv, dim), (kv, dim), (dim, dim), (ffn, dim), (dim, ffn), (ffn, dim)]
    torch.set_num_threads(threads)
    step = layers * sum(linear_seconds(s, rows, dtype, 20) for s in shapes) \
        + linear_seconds((vocab, dim), rows, dtype, 20)
    return rows / step


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("lm_eval") is None:
        print("vs_lm_eval_generation: lm-eval is not installed; pip install 'evalkit[bench]' (lm-eval==0.4.13)",
              file=sys.stderr)
        return 2
    env, model = prepare(args)
    task_dir = args.work / "lm_eval_generation_tasks"
    write_task(args.data, task_dir)
    out = args.work / "runs" / f"gsm8k-{args.dtype}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    load = os.getloadavg()[0]
    print(f"model {model.name}, gsm8k 8-shot CoT greedy, limit {args.limit}, batch {args.batch_size}, {args.dtype}, "
          f"{args.threads} thread(s), lm-eval {lm_eval_version()}, load average {load:.1f}", flush=True)
    times = {}
    for name, command in commands(args, model, task_dir, out).items():
        run_env = env if name != "evalkit before" else dict(env, PYTHONPATH=str(args.before))
        times[name] = timed(command, run_env, out / f"{name.replace(' ', '_')}.log")
        print(f"  {name}: {times[name][0]:.1f} s", flush=True)

    ours, theirs = evalkit_samples(out / "evalkit"), lm_eval_samples(out / "lm_eval")
    same_prompt = sum(a[0] == b[0] for a, b in zip(ours, theirs))
    same_text = sum(a[1] == b[1] for a, b in zip(ours, theirs))
    same_stripped = sum(a[1].strip() == b[1].strip() for a, b in zip(ours, theirs))  # lm-eval drops a leading space
    cost = json.loads((out / "evalkit" / "results.json").read_text())["cost"]["gsm8k"]
    their_forwarded, their_generated = lm_eval_forwarded(theirs, model, args.batch_size)
    ours_rate = cost["tokens_generated"] / cost["seconds"]
    bound = matmul_rate(model, args.dtype, args.batch_size, args.threads)
    (ew, ec), (lw, lc) = times["evalkit"], times["lm-eval"]
    print(f"\n| | evalkit | lm-eval {lm_eval_version()} gsm8k_cot (HF) | ratio |")
    print("|---|---|---|---|")
    print(f"| wall s | {ew:.1f} | {lw:.1f} | {lw / ew:.2f}x |")
    print(f"| CPU s | {ec:.1f} | {lc:.1f} | {lc / ec:.2f}x |")
    if args.before:
        old = json.loads((out / "before" / "results.json").read_text())["cost"]["gsm8k"]
        (bw, bc), same = times["evalkit before"], sum(a[1] == b[1] for a, b in zip(ours, evalkit_samples(out / "before")))
        print(f"| evalkit before ({args.before.name}): wall (CPU) s, forwarded / generated | {bw:.1f} ({bc:.1f}), "
              f"{old['tokens_forwarded']} / {old['tokens_generated']}, same generations {same}/{len(ours)} | | "
              f"{lw / bw:.2f}x |")
    print(f"| tokens forwarded / generated | {cost['tokens_forwarded']} / {cost['tokens_generated']} = "
          f"{cost['tokens_forwarded'] / max(1, cost['tokens_generated']):.2f} (+{cost['padding_tokens']} padding) | "
          f"~{their_forwarded} / {their_generated} = {their_forwarded / max(1, their_generated):.2f} (estimate) | |")
    print(f"| preamble tokens reused | {cost['prefix_tokens_reused']} | 0 | |")
    print(f"\nidentical prompts {same_prompt}/{len(ours)}, identical generations {same_text}/{len(ours)} "
          f"({same_stripped}/{len(ours)} up to whitespace at either end)")
    print(f"evalkit generated {ours_rate:.1f} tok/s (task seconds {cost['seconds']:.1f}, prefill included); a plain "
          f"F.linear of {args.batch_size} rows through the weights allows {bound:.1f} tok/s "
          f"({ours_rate / bound:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
