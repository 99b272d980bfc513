"""The `report` command: re-render the paper tables from result folders, without touching a model."""
from __future__ import annotations

from evalkit.errors import UsageError
from evalkit.preflight import check_output_dir
from evalkit.report import load_results, write_reports


def add_parser(sub):
    parser = sub.add_parser("report", help="re-render the LLaMA paper tables from result folders")
    parser.add_argument("outs", nargs="+", metavar="OUT",
                        help="result folder holding results.json; several give several rows")
    parser.add_argument("--output", metavar="DIR",
                        help="folder for report.md and report.tex (default: OUT when there is one; "
                             "required with several, so that no OUT's own report is overwritten)")
    parser.set_defaults(handler=_handler)


def _handler(args):
    if args.output is None and len(args.outs) > 1:
        raise UsageError(f"report of {len(args.outs)} result folders: say where it goes with --output DIR "
                         f"(writing it into {args.outs[0]} would replace that run's own report)")
    results = [load_results(out) for out in args.outs]
    output = check_output_dir(args.output or args.outs[0], "--output")
    for path in write_reports(output, results):
        print(path)
