"""The `report` command: render the paper tables (markdown, LaTeX, HTML) from result folders, without
touching a model; several folders give several rows."""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import UsageError
from evalkit.preflight import check_output_dir


def add_parser(sub):
    parser = sub.add_parser("report", help="render the LLaMA paper tables from result folders")
    parser.add_argument("outs", nargs="+", metavar="OUT", type=Path,
                        help="result folder holding results.json; several give several rows")
    parser.add_argument("--output", metavar="DIR", type=Path,
                        help="folder for report.md, report.tex, tables/ and report.html (default: OUT when there "
                             "is one; required with several, so that no OUT's own report is overwritten)")
    add_compare_to(parser)
    parser.add_argument("--figure", metavar="FILE", type=Path,
                        help="a Figure 2 PNG (from the `figure` command) to show in report.html")
    parser.set_defaults(handler=_handler)


def add_compare_to(parser) -> None:
    """--compare-to, as `run` declares it (evalkit/run_options.py)."""
    from evalkit.run_options import BY_NAME
    BY_NAME["compare_to"].add_to(parser)


def _handler(args):
    from evalkit.report import load_results, write_reports  # pandas: only when a report is made
    from evalkit.report.table import check_compare_to
    check_compare_to(args.compare_to)
    if args.figure is not None and not args.figure.is_file():
        raise UsageError(f"--figure {args.figure}: no such file")
    if args.output is None and len(args.outs) > 1:
        raise UsageError(f"report of {len(args.outs)} result folders: say where it goes with --output DIR "
                         f"(writing it into {args.outs[0]} would replace that run's own report)")
    results = [load_results(out) for out in args.outs]
    output = check_output_dir(args.output or args.outs[0], "--output")
    for path in write_reports(output, results, args.compare_to, args.outs, args.figure):
        print(path)
