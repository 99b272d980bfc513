"""`run`: evaluate tasks or suites on a model and write results, samples and the paper-shaped reports."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from evalkit.errors import UsageError
from evalkit.preflight import check_device, check_output_dir


def add_parser(sub) -> None:
    parser = sub.add_parser("run", help="evaluate tasks on a model; write results, samples and reports")
    parser.add_argument("--model", default="tiny", help="tiny | llama2.c .bin | Meta folder | HF folder or Hub id")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tasks", help="comma list of task names or paths to YAML task files; 'list' lists them")
    which.add_argument("--suite", help="comma list of suites: table3, table6, table8, table9, ci")
    parser.add_argument("--data-dir", type=Path, help="read the authors' original files (laid out as shared/data) "
                                                      "instead of the Hugging Face Hub")
    parser.add_argument("--examples", action="store_true", help="use the example documents shipped with evalkit "
                                                                "(offline demo)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N documents of each task")
    parser.add_argument("--num-fewshot", type=int, help="override the protocol's number of shots")
    parser.add_argument("--batch-size", default="auto", help="an integer or 'auto'")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="default: as stored")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--deterministic", action="store_true", help="unbatched, bit-identical scoring")
    parser.add_argument("--output-dir", type=Path, help="folder for results.json, samples/, reports and the "
                                                        "response cache (required)")
    parser.add_argument("--label", help="the name of this run's row in the reports (default: the model's name)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write OUT/cache.sqlite")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="allow running model-generated code (HumanEval, MBPP) in the sandbox")
    parser.add_argument("--n-samples", type=int, help="code tasks: samples per problem and temperature "
                                                      "(protocol default 200)")
    parser.add_argument("--save-generations", action="store_true",
                        help="code tasks: write OUT/generations/<task>.jsonl (task_id, completions)")
    parser.add_argument("--load-generations", type=Path, metavar="FILE",
                        help="code tasks: score the completions in FILE (JSON lines task_id, completions) "
                             "instead of generating them")
    parser.set_defaults(handler=handle)


def parse_batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise UsageError(f"--batch-size: expected a positive integer or 'auto', got {value!r}")
    return size


def rank_device(device: str) -> str:
    """Under a launcher each rank takes its own GPU: "cuda" means this rank's cuda:LOCAL_RANK."""
    from evalkit.engine import distributed
    if device == "cuda" and distributed.state().num_processes > 1:
        return str(distributed.device())
    return device


def executes_code(task) -> bool:
    return getattr(task, "executes_code", False)


def check_settings(args, tasks) -> None:
    """Refuse bad settings before any model is loaded or any request is computed."""
    check_device(args.device)
    check_output_dir(args.output_dir)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit: expected a positive integer, got {args.limit}")
    if args.data_dir is not None and args.examples:
        raise UsageError("--data-dir and --examples are exclusive")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    code_tasks = [t.name for t in tasks if executes_code(t)]
    if code_tasks and not args.allow_code_execution:
        raise UsageError(f"{', '.join(code_tasks)} run model-generated code; pass --allow-code-execution to "
                         "allow it (each program runs in a separate, limited process without network)")
    if args.n_samples is not None and args.n_samples < 1:
        raise UsageError(f"--n-samples: expected a positive integer, got {args.n_samples}")
    if (args.n_samples or args.save_generations or args.load_generations) and not code_tasks:
        raise UsageError("--n-samples, --save-generations and --load-generations apply to code tasks "
                         "(humaneval, mbpp), and none was asked for")
    if args.num_fewshot is not None:
        if args.num_fewshot < 0:
            raise UsageError(f"--num-fewshot: expected 0 or more, got {args.num_fewshot}")
        for task in tasks:
            protocol = getattr(task, "protocol", None)
            if args.num_fewshot > 0 and getattr(protocol, "fewshot_hub", None) is None:
                raise UsageError(f"--num-fewshot: task {task.name} declares no few-shot split")


def handle(args) -> int:
    from evalkit.engine import Engine
    from evalkit.engine.distributed import finish, is_main_process, main_process_first, sum_over_ranks
    from evalkit.engine.response_cache import ResponseCache, engine_key
    from evalkit.engine.serve import serve
    from evalkit.execution.generations import answers_from_generations, load_generations
    from evalkit.model.loaders import load_model
    from evalkit.backends.base import RunContext
    from evalkit.runner import run_task
    from evalkit.task import DataSource
    from evalkit.layout import tasks_package

    if args.tasks == "list":
        from evalkit.commands.tasks import listing
        print(listing())
        return 0
    if args.output_dir is None:
        raise UsageError("run: --output-dir is required")
    tasks = tasks_package().resolve_tasks(args.tasks or args.suite)
    batch_size = parse_batch_size(args.batch_size)
    check_settings(args, tasks)
    for task in tasks:
        if args.num_fewshot is not None:
            task.protocol = dataclasses.replace(task.protocol, num_fewshot=args.num_fewshot)
        if args.n_samples is not None and executes_code(task):
            task.protocol = dataclasses.replace(task.protocol, n=args.n_samples)
    source = DataSource(data_dir=args.data_dir, examples=args.examples)
    progress = not args.no_progress
    generations = load_generations(args.load_generations) if args.load_generations else None
    from_file = {t.name for t in tasks if generations is not None and executes_code(t)}

    loaded = engine = cache = None
    if len(from_file) < len(tasks):
        loaded = load_model(args.model, device=rank_device(args.device), dtype=args.dtype)
        engine = Engine(loaded, batch_size=batch_size, deterministic=args.deterministic)
        if not args.no_cache:
            with main_process_first():
                cache = ResponseCache(args.output_dir / "cache.sqlite", engine_key(engine))

    runs = []
    for task in tasks:
        if progress and is_main_process():
            print(f"[{task.name}]", file=sys.stderr)
        if task.name in from_file:
            answers = answers_from_generations(task, task.docs(source, args.limit), args.seed, generations,
                                               args.load_generations, args.n_samples)
            runs.append(run_task(task, source, lambda reqs: [answers[r] for r in reqs], args.seed, args.limit))
            continue
        if hasattr(task, "set_context_limit"):
            task.set_context_limit(engine.max_length, lambda text: len(loaded.tokenizer.encode(text, bos=True)))
        context = RunContext(engine.max_length, lambda text: len(loaded.tokenizer.encode(text, bos=True)))
        runs.append(run_task(task, source, lambda reqs: serve(engine, reqs, cache, progress=progress),
                             args.seed, args.limit, stats=lambda: sum_over_ranks(engine.stats.as_dict()),
                             context=context))
    if is_main_process():
        write_outputs(args, runs, loaded, batch_size)
    finish()
    return 0


def write_outputs(args, runs, loaded, batch_size) -> None:
    """results.json, samples, generations and reports (rank 0 only)."""
    from evalkit.execution.generations import save_generations
    from evalkit.report import write_reports
    from evalkit.results import (model_summary, remove_other_tasks_files, results_document, write_results,
                                 write_samples)

    remove_other_tasks_files(args.output_dir, [run.task.name for run in runs])
    for run in runs:
        write_samples(args.output_dir, run)
        if args.save_generations and executes_code(run.task):
            save_generations(args.output_dir / "generations" / f"{run.task.name}.jsonl",
                             {s.extra["task_id"]: s.extra["completions"] for s in run.samples})
    settings = {"tasks": args.tasks, "suite": args.suite, "data": str(args.data_dir) if args.data_dir else
                ("examples" if args.examples else "hub"), "limit": args.limit, "num_fewshot": args.num_fewshot,
                "batch_size": batch_size, "dtype": args.dtype, "seed": args.seed, "deterministic": args.deterministic,
                "n_samples": args.n_samples, "load_generations": str(args.load_generations or "") or None}
    model = model_summary(loaded, args.device) if loaded else \
        {"name": f"generations from {args.load_generations}", "label": args.load_generations.stem, "format": "generations"}
    if args.label:
        model["label"] = args.label
    document = results_document(runs, model, settings)
    path = write_results(args.output_dir, document)
    write_reports(args.output_dir, [document])
    print_summary(runs)
    print(f"wrote {path}, {args.output_dir / 'report.md'}, {args.output_dir / 'report.tex'}")


def print_summary(runs) -> None:
    for run in runs:
        headline = run.task.protocol_dict().get("headline_metric")
        shown = {k: v for k, v in run.metrics.items() if k == headline or k in ("acc", "acc_char", "acc_answer")}
        text = ", ".join(f"{k}={v:.4f}" for k, v in shown.items())
        print(f"{run.task.name}: n={len(run.samples)} {text} ({run.seconds:.1f}s)")
