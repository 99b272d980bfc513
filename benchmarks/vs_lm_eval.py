"""evalkit against lm-evaluation-harness (its HF backend), end to end, as each one's users run it.

Both harnesses get the same model folder (the "small" preset with random weights in transformers'
format: hf_checkpoint.py), the same documents (lm-eval's own task YAMLs pointed at the local files:
lm_eval_tasks.py), the same --limit, dtype and batch size. Each run is one process, timed from start to
exit (imports, loading, data, scoring, writing); the two alternate, lm-eval first in odd repeats and
evalkit first in even ones, so drifting machine load falls on both. Printed (markdown): the median wall
and CPU seconds per side, their ratio, per task the documents on which both predict the same choice, the
largest log-likelihood difference and each side's accuracy; and evalkit's scoring rate (real tokens x
2 x layer parameters + scored positions x 2 x output-layer parameters, over the seconds inside scoring)
against F.linear through the model's own weight shapes measured here, per dtype (forward_rate).

Installs nothing: needs lm-eval (`pip install 'evalkit[bench]'`); without it, exits 2 saying so.

    .venv/bin/python benchmarks/vs_lm_eval.py --tasks piqa,arc_easy,hellaswag --limit 300 --repeats 2
    .venv/bin/python benchmarks/vs_lm_eval.py --tasks mmlu --mmlu-subjects 10 --limit 20
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="piqa,arc_easy,hellaswag",
                        help="comma-separated: piqa, arc_easy, hellaswag, mmlu (its first --mmlu-subjects "
                             "subjects, 5-shot) or mmlu_<subject>")
    parser.add_argument("--mmlu-subjects", type=int, default=10, help="how many MMLU subjects 'mmlu' stands for")
    parser.add_argument("--limit", type=int, default=300, help="first N documents of each task (per subject)")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma-separated: float32, bfloat16")
    parser.add_argument("--batch-size", type=int, default=8, help="evalkit's batch size (and lm-eval's by default)")
    parser.add_argument("--lm-eval-batch-size", help="lm-eval's --batch_size (an integer or auto; default: "
                                                    "--batch-size)")
    parser.add_argument("--repeats", type=int, default=1, help="paired runs per dtype; medians are printed")
    add_shared_arguments(parser)
    return parser.parse_args(argv)


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of both comparisons with lm-eval (this one and vs_lm_eval_generation.py): threads, the
    model (or a preset with random weights), the data and the work folder."""
    parser.add_argument("--threads", type=int, default=2, help="OMP/MKL threads of each process")
    parser.add_argument("--model", type=Path, help="a transformers Llama folder (default: --preset with random "
                                                   "weights, written under --work)")
    parser.add_argument("--preset", default="small", help="evalkit's model preset for the default model")
    parser.add_argument("--tokenizer", type=Path, help="SentencePiece model for the default model (default: a "
                                                       "32000-token one trained on --data's text)")
    parser.add_argument("--data", type=Path, default=DATA, help="the local benchmark files (default ../shared/data)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/evalkit_vs_lm_eval"),
                        help="model, task files and run outputs (kept: the model and tokenizer are reused)")


def prepare(args: argparse.Namespace) -> tuple[dict, Path]:
    """The environment of both harnesses' processes (threads, offline, one datasets cache), also set in
    this one, and the model folder (--model, else a random one of --preset, written once under --work)."""
    args.work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               HF_DATASETS_CACHE=str(args.work / "hf_datasets"), PYTHONPATH=str(REPO))
    os.environ.update({k: env[k] for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_CACHE")})
    from hf_checkpoint import tokenizer_model, write_random_model
    model = args.model
    if model is None:
        tokenizer = args.tokenizer or tokenizer_model(args.data, args.work)
        model = write_random_model(tokenizer, args.work / f"{args.preset}-{tokenizer.stem}", args.preset)
    return env, model


def expand_tasks(spec: str, data: Path, subjects: int) -> list[str]:
    tasks = []
    for task in spec.split(","):
        if task == "mmlu":
            names = sorted(p.name.removesuffix("_test.csv") for p in (data / "mmlu" / "test").glob("*_test.csv"))
            tasks += [f"mmlu_{s}" for s in names[:subjects]]
        else:
            tasks.append(task)
    return tasks


def timed(command: list[str], env: dict, log: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one process; its output goes to `log`; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise SystemExit(f"vs_lm_eval: {command[1:3]} exited {code}; see {log}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def commands(args, model: Path, tasks: list[str], lm_tasks: list[str], dtype: str, out: Path) -> dict[str, list]:
    lm_batch = args.lm_eval_batch_size or str(args.batch_size)
    return {
        "lm-eval": [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                    f"pretrained={model},dtype={dtype}", "--tasks", ",".join(lm_tasks), "--include_path",
                    str(args.work / "lm_eval_tasks"), "--limit", str(args.limit), "--batch_size", lm_batch,
                    "--device", "cpu", "--log_samples", "--output_path", str(out / "lm_eval")],
        "evalkit": [sys.executable, str(REPO / "run_eval.py"), "run", "--model", str(model), "--tasks",
                    ",".join(tasks), "--data-dir", str(args.data), "--limit", str(args.limit), "--batch-size",
                    str(args.batch_size), "--dtype", dtype, "--no-progress", "--output-dir", str(out / "evalkit")],
    }


def linear_seconds(shape: tuple[int, int], rows: int, dtype: str, repeats: int) -> float:
    """Seconds of one F.linear of `rows` random rows through a random (out, in) weight `shape` in `dtype`,
    the mean of `repeats` after three warm-ups (the threads as set by the caller)."""
    import torch
    import torch.nn.functional as F
    dt = getattr(torch, dtype)
    x, w = torch.randn(rows, shape[1], dtype=dt), torch.randn(shape, dtype=dt)
    for _ in range(3):
        F.linear(x, w)
    start = time.perf_counter()
    for _ in range(repeats):
        F.linear(x, w)
    return (time.perf_counter() - start) / repeats


def forward_rate(out: Path, dtype: str, threads: int) -> tuple[float, float]:
    """(evalkit's scoring GFLOP/s, a plain matmul's GFLOP/s over the same shapes) for the model in `out`.

    Scoring's work: every real token forwarded through the layers (2 x layer parameters each) and every
    scored position through the output layer (2 x vocab x dim each), over the seconds spent inside
    scoring (planning, forwards, log-softmax; `cost.scoring_seconds`). The matmul: F.linear of 1024
    rows through each of the model's weight shapes (a layer's seven and the output layer), FLOP-weighted
    as scoring weights them, in the same dtype and threads."""
    import torch

    from evalkit.model.config import ModelConfig
    result = json.loads((out / "results.json").read_text())
    cfg = ModelConfig(**result["model"]["config"])
    cost = result["cost"].values()
    tokens, positions = sum(c["tokens_forwarded"] for c in cost), sum(c["scored_positions"] for c in cost)
    seconds = sum(c["scoring_seconds"] for c in cost)
    kv = cfg.kv_heads * cfg.head_dim
    layer = [(cfg.n_heads * cfg.head_dim, cfg.dim), (kv, cfg.dim), (kv, cfg.dim), (cfg.dim, cfg.n_heads * cfg.head_dim),
             (cfg.ffn_dim, cfg.dim), (cfg.dim, cfg.ffn_dim), (cfg.ffn_dim, cfg.dim)]  # wq wk wv wo w1 w2 w3 (out, in)
    layer_flops = 2 * cfg.n_layers * sum(o * i for o, i in layer)
    head_flops = 2 * cfg.vocab_size * cfg.dim
    work = tokens * layer_flops + positions * head_flops
    torch.set_num_threads(threads)
    rows = 1024
    per_token = cfg.n_layers * sum(linear_seconds(shape, rows, dtype, 10) for shape in layer) / rows
    per_position = linear_seconds((cfg.vocab_size, cfg.dim), rows, dtype, 10) / rows
    matmul = work / (tokens * per_token + positions * per_position)
    return work / seconds / 1e9, matmul / 1e9


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("lm_eval") is None:
        print("vs_lm_eval: lm-eval is not installed; pip install 'evalkit[bench]' (lm-eval==0.4.13)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lm_eval_agreement import compare, evalkit_documents, lm_eval_documents
    from lm_eval_tasks import write_tasks

    tasks = expand_tasks(args.tasks, args.data, args.mmlu_subjects)
    env, model = prepare(args)
    lm_tasks = write_tasks(tasks, args.data, args.work / "lm_eval_tasks")
    from lm_eval.tasks import TaskManager, get_task_dict
    get_task_dict(lm_tasks, TaskManager(include_path=str(args.work / "lm_eval_tasks")))  # datasets' cache, untimed

    print(f"model {model.name}, tasks {','.join(tasks)}, limit {args.limit}, batch {args.batch_size} "
          f"(lm-eval {args.lm_eval_batch_size or args.batch_size}), {args.threads} thread(s), lm-eval "
          f"{lm_eval_version()}", flush=True)
    speed, agreement, rates = [], [], []
    for dtype in args.dtype.split(","):
        times = {"lm-eval": [], "evalkit": []}
        for repeat in range(args.repeats):
            out = args.work / "runs" / f"{dtype}-{repeat}"
            shutil.rmtree(out, ignore_errors=True)  # lm-eval names its files by time: keep only this run's
            runs = commands(args, model, tasks, lm_tasks, dtype, out)
            order = ["lm-eval", "evalkit"] if repeat % 2 == 0 else ["evalkit", "lm-eval"]
            out.mkdir(parents=True)
            for name in order:
                times[name].append(timed(runs[name], env, out / f"{name}.log"))
                print(f"  {dtype} repeat {repeat + 1}: {name} {times[name][-1][0]:.1f} s", flush=True)
        wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
        cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
        speed.append((dtype, wall, cpu))
        for task, lm_task in zip(tasks, lm_tasks):
            agreement.append((dtype, compare(task, evalkit_documents(out / "evalkit", task),
                                             lm_eval_documents(out / "lm_eval", lm_task))))
        rates.append((dtype, *forward_rate(out / "evalkit", dtype, args.threads)))

    print(f"\n| dtype | evalkit wall (CPU) s | lm-eval {lm_eval_version()} HF wall (CPU) s | ratio (wall) | ratio (CPU) "
          "| runs |")
    print("|---|---|---|---|---|---|")
    for dtype, wall, cpu in speed:
        print(f"| {dtype} | {wall['evalkit']:.1f} ({cpu['evalkit']:.1f}) | {wall['lm-eval']:.1f} ({cpu['lm-eval']:.1f}) "
              f"| {wall['lm-eval'] / wall['evalkit']:.2f}x | {cpu['lm-eval'] / cpu['evalkit']:.2f}x "
              f"| median of {args.repeats} |")
    print("\n| dtype | task | documents | same prediction | max abs. dLL (nat) | acc evalkit | acc lm-eval |")
    print("|---|---|---|---|---|---|---|")
    for dtype, a in agreement:
        print(f"| {dtype} | {a.task} | {a.documents} | {a.same_prediction}/{a.documents} | {a.max_shift:.4f} "
              f"| {a.acc_first:.4f} | {a.acc_second:.4f} |")
    dtypes = args.dtype.split(",")
    if "float32" in dtypes and "bfloat16" in dtypes:  # the last repeat's outputs of each dtype
        print_bf16_vs_fp32(tasks, lm_tasks, args.work / "runs" / f"float32-{args.repeats - 1}",
                           args.work / "runs" / f"bfloat16-{args.repeats - 1}")
    print("\n| dtype | evalkit scoring (GFLOP/s) | plain matmul, same shapes (GFLOP/s) | efficiency |")
    print("|---|---|---|---|")
    for dtype, ours, matmul in rates:
        print(f"| {dtype} | {ours:.1f} | {matmul:.1f} | {ours / matmul:.0%} |")
    return 0


def print_bf16_vs_fp32(tasks: list[str], lm_tasks: list[str], fp32: Path, bf16: Path) -> None:
    """Per task and harness: does its bf16 run keep its fp32 run's predictions?"""
    from lm_eval_agreement import compare, evalkit_documents, lm_eval_documents
    print("\n| task | evalkit: bf16 predictions = fp32 | max abs. dLL | lm-eval: bf16 predictions = fp32 "
          "| max abs. dLL | acc fp32 -> bf16 (evalkit; lm-eval) |")
    print("|---|---|---|---|---|---|")
    for task, lm_task in zip(tasks, lm_tasks):
        ours = compare(task, evalkit_documents(fp32 / "evalkit", task), evalkit_documents(bf16 / "evalkit", task))
        theirs = compare(task, lm_eval_documents(fp32 / "lm_eval", lm_task),
                         lm_eval_documents(bf16 / "lm_eval", lm_task))
        print(f"| {task} | {ours.same_prediction}/{ours.documents} | {ours.max_shift:.3f} "
              f"| {theirs.same_prediction}/{theirs.documents} | {theirs.max_shift:.3f} "
              f"| {ours.acc_first:.3f} -> {ours.acc_second:.3f}; {theirs.acc_first:.3f} -> {theirs.acc_second:.3f} |")


def lm_eval_version() -> str:
    from importlib.metadata import version
    return version("lm_eval")


if __name__ == "__main__":
    sys.exit(main())
