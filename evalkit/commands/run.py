"""`run`: evaluate tasks or suites with a backend and write results, samples and the paper-shaped reports.

The flags are the run options (evalkit/run_options.py), which are also the keywords of the Python API
(evalkit/api.py, `evalkit.evaluate`), which does the work; this command prints each task's metrics as it
finishes, the headline metric marked.
"""
from __future__ import annotations

import sys

from evalkit.errors import UsageError
from evalkit.run_options import add_run_arguments, defaults


def add_parser(sub) -> None:
    parser = sub.add_parser("run", help="evaluate tasks on a model; write results, samples and reports")
    add_run_arguments(parser)
    parser.set_defaults(handler=handle)


INCOMPLETE = 3  # exit status: the run ended, but some task's headline metric is not over all its documents


def handle(args) -> int:
    from evalkit.api import evaluate

    if args.tasks == "list":
        from evalkit.commands.tasks import listing
        print(listing())
        return 0
    if args.output_dir is None:
        raise UsageError("run: --output-dir is required")
    options = {key: value for key, value in vars(args).items() if key in defaults()}
    document = evaluate(**options, on_task=print_task)
    if document is None:
        return 0  # not rank 0 of a launch: rank 0 writes and says so
    out = args.output_dir
    print(f"wrote {out / 'results.json'}, {out / 'report.md'}, {out / 'report.tex'}, {out / 'report.html'}")
    if document.get("incomplete"):  # exit 0 claims every number asked for was computed by its protocol
        print("error: incomplete: " + "; ".join(f"{task}: {why}" for task, why in document["incomplete"].items())
              + " (results.json and the reports say so)", file=sys.stderr)
        return INCOMPLETE
    return 0


def print_task(run) -> None:
    """One line as soon as a task finishes: its metrics, the headline (the paper's number) marked with *."""
    headline = run.task.protocol_dict().get("headline_metric")
    shown = {k: v for k, v in run.metrics.items() if k == headline or k in ("acc", "acc_char", "acc_answer")}
    text = ", ".join(f"{'*' if k == headline else ''}{k}={v:.4f}" for k, v in shown.items())
    print(f"{run.task.name}: n={len(run.samples)} {text} ({run.seconds:.1f}s)", flush=True)
