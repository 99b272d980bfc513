"""The `compare` command: what changed between two result folders, and is it noise?"""
from __future__ import annotations

import sys
from pathlib import Path

from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("compare", help="compare two result folders: deltas, intervals, flipped documents")
    parser.add_argument("out_a", metavar="OUT_A", type=Path, help="the baseline result folder")
    parser.add_argument("out_b", metavar="OUT_B", type=Path, help="the result folder compared with it")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument("--output", metavar="FILE", type=Path, help="write to FILE instead of stdout")
    parser.add_argument("--fail-on-regression", metavar="METRIC:DELTA", action="append", default=[],
                        help="exit 1 when B is worse than A on METRIC by more than DELTA (a fraction, "
                             "0.01 = 1 point) in any task, judged on the documents both runs scored (mean "
                             "paired difference), or when that cannot be judged; may be repeated")
    parser.add_argument("--max-flipped", type=int, default=10, help="flipped documents listed per task")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the paired bootstrap resamples")
    parser.set_defaults(handler=_handler)


def parse_threshold(text: str) -> tuple[str, float]:
    metric, sep, delta = text.rpartition(":")
    try:
        value = float(delta)
    except ValueError:
        value = -1.0
    if not sep or not metric or value < 0:
        raise UsageError(f"--fail-on-regression: expected METRIC:DELTA with DELTA >= 0 (acc:0.01), got {text!r}")
    return metric, value


def _handler(args) -> int:
    from evalkit.report.compare import compare_runs, regressions  # pandas: only when comparing
    from evalkit.report.compare_render import comparison_json, comparison_markdown
    thresholds = [parse_threshold(text) for text in args.fail_on_regression]
    if args.max_flipped < 0 or args.resamples < 1:
        raise UsageError("--max-flipped must be >= 0 and --resamples >= 1")
    comparison = compare_runs(args.out_a, args.out_b, args.resamples, args.seed, args.max_flipped)
    for metric, _ in thresholds:
        if not any(d.metric == metric for d in comparison.deltas):
            raise UsageError(f"--fail-on-regression: no task of both runs reports {metric!r}")
    text = comparison_json(comparison) if args.json else comparison_markdown(comparison)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    for warning in comparison.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = False
    for metric, tolerance in thresholds:
        found, unjudged = regressions(comparison, metric, tolerance)
        for d in found:
            print(f"regression: {d.task} {d.metric} {_verdict(d, comparison)}, tolerance {tolerance}", file=sys.stderr)
        for d in unjudged:
            print(f"cannot judge: {d.task} {d.metric}: the runs scored different documents and the samples carry "
                  f"no per-document {d.metric} (A {d.a:.4f}, B {d.b:.4f})", file=sys.stderr)
        failed = failed or bool(found or unjudged)
    return 1 if failed else 0


def _verdict(d, comparison) -> str:
    """B - A on the shared documents (with its interval), then each run's own mean over its documents."""
    from evalkit.report.compare import LEVEL
    docs = comparison.documents.get(d.task)
    own = f"A {d.a:.4f} over {docs.a if docs else '?'} documents, B {d.b:.4f} over {docs.b if docs else '?'}"
    if d.shared_delta is None:
        return f"{d.delta:+.4f} (the same documents: {own})"
    interval = "no interval" if d.ci_low is None else f"{LEVEL:.0%} CI [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
    return f"{d.shared_delta:+.4f} on the {d.shared} documents both runs scored ({interval}; {own})"
