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
    parser.add_argument("--include-path", type=Path, help="a folder of lm-eval task files: --tasks may name its "
                                                          "tasks, groups and tags (lm-eval's --include_path)")
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


def handle(args) -> int:
    from evalkit.api import evaluate, run_options

    if args.tasks == "list":
        from evalkit.commands.tasks import listing
        print(listing())
        return 0
    if args.output_dir is None:
        raise UsageError("run: --output-dir is required")
    options = {key: value for key, value in vars(args).items() if key in run_options()}
    document = evaluate(**options, on_task=print_task)
    if document is None:
        return 0  # not rank 0 of a launch: rank 0 writes and says so
    out = args.output_dir
    print(f"wrote {out / 'results.json'}, {out / 'report.md'}, {out / 'report.tex'}, {out / 'report.html'}")
    return 0


def print_task(run) -> None:
    """One line as soon as a task finishes: its metrics, the headline (the paper's number) marked with *."""
    headline = run.task.protocol_dict().get("headline_metric")
    shown = {k: v for k, v in run.metrics.items() if k == headline or k in ("acc", "acc_char", "acc_answer")}
    text = ", ".join(f"{'*' if k == headline else ''}{k}={v:.4f}" for k, v in shown.items())
    print(f"{run.task.name}: n={len(run.samples)} {text} ({run.seconds:.1f}s)", flush=True)
