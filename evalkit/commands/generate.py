"""PLACEHOLDER: the `generate` command (being written)."""
from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("generate")
    parser.set_defaults(handler=_handler)


def _handler(args):
    raise UsageError("generate: not implemented yet")
