"""PLACEHOLDER: the `run` command (being written)."""
from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("run")
    parser.set_defaults(handler=_handler)


def _handler(args):
    raise UsageError("run: not implemented yet")
