"""Sub-commands of the CLI. Each module has add_parser(subparsers), which sets `handler`."""
from evalkit.commands import compare, figure, generate, plan, report, run, score, serve, tasks, train_tokenizer

COMMANDS = [run, report, compare, figure, tasks, generate, score, serve, train_tokenizer, plan]
