"""PLACEHOLDER: the `report` command (being written)."""
from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("report")
    parser.set_defaults(handler=_handler)


def _handler(args):
    raise UsageError("report: not implemented yet")
