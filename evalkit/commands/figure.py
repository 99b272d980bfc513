"""The `figure` command: the paper's Figure 2 (performance during training) from a series of runs."""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import UsageError

SUFFIXES = (".png", ".pdf")


def add_parser(sub):
    parser = sub.add_parser("figure", help="plot Figure 2: each task's metric against training tokens")
    parser.add_argument("outs", nargs="+", metavar="OUT", type=Path,
                        help="result folders, one per checkpoint (run with --training-tokens)")
    parser.add_argument("--output", metavar="FILE", type=Path, required=True,
                        help="the figure file; .png or .pdf")
    parser.set_defaults(handler=_handler)


def _handler(args):
    if args.output.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--output {args.output}: expected a .png or .pdf file")
    from evalkit.report import load_results
    from evalkit.report.figure import write_figure  # matplotlib only when a figure is drawn
    results = [load_results(out) for out in args.outs]
    write_figure(results, [str(out) for out in args.outs], args.output)
    print(args.output)
