"""The `score` command: log-likelihoods of (context, continuation) pairs from a JSON-lines file.

Each input line is {"context": str, "continuation": str}; each output line is
{"loglikelihood": float, "num_tokens": int, "is_greedy": bool}, in the same order.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from evalkit.backends import add_backend_arguments, load_backend
from evalkit.data import field, read_jsonl
from evalkit.requests import LoglikelihoodRequest


def add_parser(sub):
    parser = sub.add_parser("score", help="log-likelihoods of continuations given contexts (JSON lines)")
    add_backend_arguments(parser)
    parser.add_argument("--requests", required=True, type=Path,
                        help='JSON-lines file of {"context": ..., "continuation": ...}')
    parser.set_defaults(handler=_handler)


def read_requests(path: Path) -> list[LoglikelihoodRequest]:
    """Parse the requests file; DataError names the file, the line and the field at fault."""
    return [LoglikelihoodRequest(field(record, "context", where), field(record, "continuation", where))
            for where, record in read_jsonl(path)]


def _handler(args):
    from evalkit.serving.distributed import finish, is_main_process
    requests = read_requests(args.requests)
    results = load_backend(args).loglikelihood(requests)  # under torchrun every rank computes (tensor parallel)
    if is_main_process():
        for result in results:
            print(json.dumps(asdict(result)))
    finish()
