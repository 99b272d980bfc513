"""`tasks`: every registered task and suite, with its paper table, split, shots and headline metric
(also `run --tasks list`)."""
from __future__ import annotations

from tabulate import tabulate


def add_parser(sub) -> None:
    parser = sub.add_parser("tasks", help="list every task and suite: paper table, split, shots, headline metric")
    parser.set_defaults(handler=handle)


def listing() -> str:
    """The tasks table, then the suites table, as plain text."""
    from evalkit.layout import tasks_package
    registry = tasks_package()
    rows = []
    for name in [*registry.TASK_NAMES, *registry.SUBJECT_TASKS]:
        protocol = registry.get_task(name).protocol
        rows.append([name, protocol.paper_table, protocol.split, protocol.num_fewshot, protocol.headline_metric])
    tasks = tabulate(rows, ["task", "table", "split", "shots", "headline metric"], tablefmt="simple",
                     disable_numparse=True)
    suites = tabulate([[name, " ".join(names)] for name, names in registry.suites().items()], ["suite", "tasks"],
                      tablefmt="simple")
    return f"{tasks}\n\n{suites}\n\nOr a path to a YAML task file (README: User tasks)."


def handle(args) -> int:
    print(listing())
    return 0
