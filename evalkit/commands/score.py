"""The `score` command: log-likelihoods of (context, continuation) pairs from a JSON-lines file.

Each input line is {"context": str, "continuation": str}; each output line is
{"loglikelihood": float, "num_tokens": int, "is_greedy": bool}, in the same order.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from evalkit.commands.generate import add_model_arguments, load_engine
from evalkit.errors import DataError
from evalkit.requests import LoglikelihoodRequest


def add_parser(sub):
    parser = sub.add_parser("score", help="log-likelihoods of continuations given contexts (JSON lines)")
    add_model_arguments(parser)
    parser.add_argument("--requests", required=True, type=Path,
                        help='JSON-lines file of {"context": ..., "continuation": ...}')
    parser.set_defaults(handler=_handler)


def read_requests(path: Path) -> list[LoglikelihoodRequest]:
    """Parse the requests file; DataError names the file, the line and the field at fault."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read requests ({error})") from None
    requests = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object with 'context' and 'continuation'")
        for field in ("context", "continuation"):
            if not isinstance(record.get(field), str):
                problem = "missing" if field not in record else f"not a string ({type(record[field]).__name__})"
                raise DataError(f"{path}:{number}: field '{field}' {problem}")
        requests.append(LoglikelihoodRequest(record["context"], record["continuation"]))
    return requests


def _handler(args):
    requests = read_requests(args.requests)
    engine = load_engine(args)
    for result in engine.loglikelihood(requests):
        print(json.dumps(asdict(result)))
