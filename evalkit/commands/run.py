"""`run`: evaluate tasks or suites with a backend and write results, samples and the paper-shaped reports.

The flags are the options of the Python API (evalkit/api.py, `evalkit.evaluate`), which does the work;
this command prints each task's metrics as it finishes, the headline metric marked.
"""
from __future__ import annotations

import sys
from pathlib import Path

from evalkit.backends import add_backend_arguments
from evalkit.errors import UsageError


def add_parser(sub) -> None:
    parser = sub.add_parser("run", help="evaluate tasks on a model; write results, samples and reports")
    add_arguments(parser)
    parser.set_defaults(handler=handle)


def add_arguments(parser) -> None:
    """The run flags (also the options of evalkit.evaluate)."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tasks", help="comma list of task names or paths to YAML task files; 'list' lists them")
    which.add_argument("--suite", help="comma list of suites: table3, table6, table8, table9, ... (the tables of "
                                       "reports/table_specs.json whose tasks exist), ci")
    parser.add_argument("--data-dir", type=Path, help="read the authors' original files (laid out as shared/data) "
                                                      "instead of the Hugging Face Hub")
    parser.add_argument("--examples", action="store_true", help="use the example documents shipped with evalkit "
                                                                "(offline demo)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N documents of each task (of each "
                                                  "subject for MMLU, as lm-eval's subtasks)")
    parser.add_argument("--num-fewshot", type=int, help="override the protocol's number of shots (Table 3 tasks: "
                                                        "drawn from the benchmark's train split)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of few-shot draws and sampling")
    parser.add_argument("--output-dir", type=Path, help="folder for results.json, samples/, report.md/.tex and the "
                                                        "response cache (required)")
    parser.add_argument("--label", help="name of this run's row in the reports (default: the model's name)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write OUT/cache.sqlite (answers) and OUT/judgements.sqlite")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars or per-request counts")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="allow running model-generated code (HumanEval, MBPP) in the sandbox")
    parser.add_argument("--n-samples", type=int, help="samples per request of tasks that draw n (code tasks: per "
                                                      "problem and temperature, protocol default 200)")
    parser.add_argument("--save-generations", action="store_true",
                        help="generation tasks: write OUT/generations/<task>.jsonl (task_id, completions)")
    add_backend_arguments(parser, generations=True)


def handle(args) -> int:
    from evalkit.api import evaluate, run_options

    if args.tasks == "list":
        from evalkit.commands.tasks import listing
        print(listing())
        return 0
    if args.output_dir is None:
        raise UsageError("run: --output-dir is required")
    options = {key: value for key, value in vars(args).items() if key in run_options()}
    evaluate(**options, on_task=print_task)
    out = args.output_dir
    print(f"wrote {out / 'results.json'}, {out / 'report.md'}, {out / 'report.tex'}")
    return 0


def print_task(run) -> None:
    """One line as soon as a task finishes: its metrics, the headline (the paper's number) marked with *."""
    headline = run.task.protocol_dict().get("headline_metric")
    shown = {k: v for k, v in run.metrics.items() if k == headline or k in ("acc", "acc_char", "acc_answer")}
    text = ", ".join(f"{'*' if k == headline else ''}{k}={v:.4f}" for k, v in shown.items())
    print(f"{run.task.name}: n={len(run.samples)} {text} ({run.seconds:.1f}s)", flush=True)
