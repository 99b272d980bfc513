"""The command line: one sub-command per module in evalkit/commands, errors as one line and exit 2."""
from __future__ import annotations

import argparse
import sys

from evalkit.errors import EvalkitError
from evalkit.commands import COMMANDS


class _ArgumentParser(argparse.ArgumentParser):
    """argparse already exits 2 on a bad flag; keep its message to one line."""

    def error(self, message):  # noqa: D401 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="evalkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except EvalkitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(status or 0)
