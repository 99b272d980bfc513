"""PLACEHOLDER: the `score` command (being written)."""
from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("score")
    parser.set_defaults(handler=_handler)


def _handler(args):
    raise UsageError("score: not implemented yet")
