"""The `report` command: re-render the paper tables from result folders, without touching a model."""
from __future__ import annotations

from evalkit.report import load_results, write_reports


def add_parser(sub):
    parser = sub.add_parser("report", help="re-render the LLaMA paper tables from result folders")
    parser.add_argument("outs", nargs="+", metavar="OUT",
                        help="result folder holding results.json; several give several rows")
    parser.add_argument("--output", metavar="DIR",
                        help="folder for report.md and report.tex (default: the first OUT)")
    parser.set_defaults(handler=_handler)


def _handler(args):
    results = [load_results(out) for out in args.outs]
    for path in write_reports(args.output or args.outs[0], results):
        print(path)
