"""`run`: evaluate tasks or suites with a backend and write results, samples and the paper-shaped reports."""
from __future__ import annotations

import sys
from pathlib import Path

from evalkit.backends import add_backend_arguments, backend_name, options_from_args
from evalkit.errors import UsageError


def add_parser(sub) -> None:
    parser = sub.add_parser("run", help="evaluate tasks on a model; write results, samples and reports")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tasks", help="comma list of task names or paths to YAML task files")
    which.add_argument("--suite", help="comma list of suites: table3, table6, table8, table9, ... (the tables of "
                                       "reports/table_specs.json whose tasks exist), ci")
    parser.add_argument("--data-dir", type=Path, help="read the authors' original files (laid out as shared/data) "
                                                      "instead of the Hugging Face Hub")
    parser.add_argument("--examples", action="store_true", help="use the example documents shipped with evalkit "
                                                                "(offline demo)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N documents of each task")
    parser.add_argument("--num-fewshot", type=int, help="override the protocol's number of shots")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write OUT/cache.sqlite (answers) and OUT/judgements.sqlite")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="allow running model-generated code (HumanEval, MBPP) in the sandbox")
    parser.add_argument("--unsafe-execution", action="store_true",
                        help="where bubblewrap cannot contain generated code, run it anyway, uncontained")
    parser.add_argument("--n-samples", type=int, help="samples per request of tasks that draw n (code tasks: per "
                                                      "problem and temperature, protocol default 200; maj1@k "
                                                      "tasks: k, protocol 256 MATH, 100 GSM8K)")
    parser.add_argument("--save-generations", action="store_true",
                        help="generation tasks: write OUT/generations/<task>.jsonl (task_id, completions)")
    for flag, (setting, kind, help_text) in TASK_FLAGS.items():
        parser.add_argument(flag, type=kind, help=help_text, dest=setting)
    add_backend_arguments(parser, generations=True)
    parser.add_argument("--training-tokens", type=int, metavar="N",
                        help="tokens the checkpoint was trained on (for Figure 2; default: read from the "
                             "checkpoint's trainer_state.json where present)")
    from evalkit.commands.report import add_compare_to
    add_compare_to(parser)
    parser.set_defaults(handler=handle)


# Flags that set one protocol setting of the tasks that have it (task.settings()); refused when no task
# asked for has it. flag -> (setting, type, help).
TASK_FLAGS = {
    "--max-new-tokens": ("max_new_tokens", int, "generation tasks: maximum new tokens per continuation"),
    "--subsample": ("subsample", int, "realtoxicityprompts: a seeded random subset of N prompts (NOT the paper's "
                                      "protocol; results and reports say so)"),
    "--toxicity-scorer": ("toxicity_scorer", str, "realtoxicityprompts: perspective (the paper's; key in "
                                                  "$PERSPECTIVE_API_KEY) or local (offline, not comparable)"),
    "--toxicity-model": ("toxicity_model", str, "local toxicity scorer: a transformers classifier folder "
                                                "instead of alt-profanity-check"),
    "--perspective-url": ("perspective_url", str, "Perspective comments:analyze endpoint (default: Google's)"),
    "--perspective-qps": ("perspective_qps", float, "Perspective requests per second over the whole run "
                                                    "(default 1, the API's default quota)"),
    "--truth-judge": ("truth_judge", str, "truthfulqa_gen: the truthfulness judge, BACKEND:MODEL (e.g. "
                                          "hf:allenai/truthfulqa-truth-judge-llama2-7B) or openai:MODEL@BASE_URL"),
    "--info-judge": ("info_judge", str, "truthfulqa_gen: the informativeness judge, as --truth-judge"),
    "--perspective-timeout": ("perspective_timeout_s", float, "seconds per Perspective request (default 30)"),
    "--perspective-retry-s": ("perspective_retry_s", float, "first Perspective retry delay, doubling up to 64 s "
                                                            "(default 1)"),
}


def protocol_changes(args) -> dict[str, int]:
    """The protocol settings the command line overrides, as `task.configure` takes them."""
    return {key: value for key, value in (("num_fewshot", args.num_fewshot), ("n", args.n_samples))
            if value is not None}


def check_settings(args, tasks) -> None:
    """Refuse bad settings before any model is loaded or any request is computed."""
    from evalkit.report.table import check_compare_to
    from evalkit.scorers import runs_untrusted_code

    check_compare_to(args.compare_to)
    if args.training_tokens is not None and args.training_tokens < 0:
        raise UsageError(f"--training-tokens: expected 0 or more, got {args.training_tokens}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit: expected a positive integer, got {args.limit}")
    if args.data_dir is not None and args.examples:
        raise UsageError("--data-dir and --examples are exclusive")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    risky = [t.name for t in tasks if runs_untrusted_code(t)]
    if risky and not args.allow_code_execution:
        raise UsageError(f"{', '.join(risky)} run model-generated code; pass --allow-code-execution to "
                         "allow it (each program runs in a separate, limited process without network)")
    if risky:  # fail closed before any work: without containment only --unsafe-execution runs code
        from evalkit.execution import allow_unsafe_execution, find_sandbox
        find_sandbox(allow_unsafe=args.unsafe_execution)  # ContainmentMissing unless bwrap works or it is allowed
        if args.unsafe_execution:
            allow_unsafe_execution()
    if args.n_samples is not None and args.n_samples < 1:
        raise UsageError(f"--n-samples: expected a positive integer, got {args.n_samples}")
    if args.num_fewshot is not None and args.num_fewshot < 0:
        raise UsageError(f"--num-fewshot: expected 0 or more, got {args.num_fewshot}")
    if args.n_samples is not None and not any("n" in t.settings() for t in tasks):
        raise UsageError("--n-samples applies to tasks that draw n samples per request (humaneval, mbpp, "
                         "math_maj1@k, gsm8k_maj1@k), and none was asked for")


def configure(args, tasks) -> None:
    """Apply --num-fewshot to every task, --n-samples to the tasks that draw n samples, and each of
    TASK_FLAGS to the tasks that have its setting; then check the scorers the tasks will need."""
    from evalkit.scorers import check_scorers

    for flag, (setting, _, _) in TASK_FLAGS.items():
        value = getattr(args, setting)
        if value is None:
            continue
        takers = [task for task in tasks if setting in task.settings()]
        if not takers:
            raise UsageError(f"{flag} applies to no task asked for")
        for task in takers:
            try:
                task.configure(**{setting: value})
            except UsageError as error:
                raise UsageError(f"{flag}: {error}") from None
    for task in tasks:
        changes = protocol_changes(args)
        if "n" not in task.settings():
            changes.pop("n", None)
        try:
            task.configure(**changes)
        except UsageError as error:
            flag = "--num-fewshot" if "num_fewshot" in changes else "--n-samples"
            raise UsageError(f"{flag}: {error}") from None
        check_scorers(task)


def handle(args) -> int:
    from evalkit.backends import load_backend
    from evalkit.runner import Caches, run_task
    from evalkit.scorers.judgement_cache import JudgementCache
    from evalkit.serving.distributed import finish, is_main_process, main_process_first
    from evalkit.serving.response_cache import ResponseCache
    from evalkit.task import DataSource
    from evalkit.training_progress import training_progress
    from tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks or args.suite)
    backend_name(args)
    options_from_args(args)
    check_settings(args, tasks)
    configure(args, tasks)
    args.training = training_progress(args.model, args.training_tokens)  # read before any work is spent
    source = DataSource(data_dir=args.data_dir, examples=args.examples)
    for task in tasks:
        task.check_source(source)
    progress = not args.no_progress

    backend = load_backend(args)
    caches = Caches()
    if not args.no_cache:
        with main_process_first():
            caches = Caches(ResponseCache(args.output_dir / "cache.sqlite", backend.fingerprint),
                            JudgementCache(args.output_dir / "judgements.sqlite"))
    runs = []
    for task in tasks:
        if progress and is_main_process():
            print(f"[{task.name}]", file=sys.stderr)
        runs.append(run_task(task, source, backend, args.seed, args.limit, caches, progress))
    if is_main_process():
        write_outputs(args, runs, backend)
    finish()
    return 0


def write_outputs(args, runs, backend) -> None:
    """results.json, samples, generations and reports (rank 0 only)."""
    from evalkit.generations_file import save_generations
    from evalkit.report import write_reports
    from evalkit.results import results_document, write_results, write_samples

    for run in runs:
        write_samples(args.output_dir, run)
        if args.save_generations and run.generations:
            save_generations(args.output_dir / "generations" / f"{run.task.name}.jsonl", run.generations)
    settings = {"tasks": args.tasks, "suite": args.suite, "data": str(args.data_dir) if args.data_dir else
                ("examples" if args.examples else "hub"), "limit": args.limit, "num_fewshot": args.num_fewshot,
                "batch_size": options_from_args(args).batch_size, "seed": args.seed,
                "deterministic": args.deterministic, "n_samples": args.n_samples,
                "load_generations": str(args.load_generations or "") or None}
    model = backend.describe()
    if args.training is not None:
        model["training"] = args.training
    document = results_document(runs, model, settings)
    path = write_results(args.output_dir, document)
    reports = write_reports(args.output_dir, [document], args.compare_to, [args.output_dir])
    print_summary(runs)
    print(f"wrote {path}, {', '.join(str(p) for p in reports)}")


def print_summary(runs) -> None:
    for run in runs:
        headline = run.task.protocol_dict().get("headline_metric")
        shown = {k: v for k, v in run.metrics.items() if k == headline or k in ("acc", "acc_char", "acc_answer")}
        text = ", ".join(f"{k}={v:.4f}" for k, v in shown.items())
        print(f"{run.task.name}: n={len(run.samples)} {text} ({run.seconds:.1f}s)")
