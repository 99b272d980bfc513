"""The command line: one sub-command per module in evalkit/commands, errors as one line and exit 2."""
from __future__ import annotations

import argparse
import os
import sys

from evalkit.errors import EvalkitError
from evalkit.commands import COMMANDS


class _DefaultsHelp(argparse.HelpFormatter):
    """Every flag's help ends with its default, where it has one worth saying."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text \
                and action.option_strings:
            text += " (default: %(default)s)"
        return text


class _ArgumentParser(argparse.ArgumentParser):
    """argparse already exits 2 on a bad flag; keep its message to one line. Help shows defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsHelp)
        super().__init__(*args, **kwargs)

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
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at interpreter exit
    except EvalkitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted; {_resume_hint(args)}", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # the reader went away (`... | head`): nothing more can be shown; keep the exit quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    sys.exit(status or 0)


def _resume_hint(args) -> str:
    out = getattr(args, "output_dir", None)
    if out is None:
        return "nothing was written"
    if getattr(args, "no_cache", False):
        return "with --no-cache nothing was kept: the same command starts over"
    return f"run the same command again to resume (finished requests are kept in {out}/cache.sqlite)"
