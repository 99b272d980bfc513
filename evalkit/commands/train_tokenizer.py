"""PLACEHOLDER: the `train-tokenizer` command (being written)."""
from evalkit.errors import UsageError


def add_parser(sub):
    parser = sub.add_parser("train-tokenizer")
    parser.set_defaults(handler=_handler)


def _handler(args):
    raise UsageError("train-tokenizer: not implemented yet")
