"""Sub-commands of the CLI. Each module has add_parser(subparsers), which sets `handler`."""
from evalkit.commands import generate, report, run, score, tasks, train_tokenizer

COMMANDS = [run, report, generate, score, tasks, train_tokenizer]
