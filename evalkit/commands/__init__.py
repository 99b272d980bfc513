"""Sub-commands of the CLI. Each module has add_parser(subparsers) which sets `handler`."""
from evalkit.commands import generate, score, train_tokenizer

COMMANDS = [generate, score, train_tokenizer]
