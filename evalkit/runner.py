"""Run tasks end to end: build every document's requests, serve them, score, and collect results.

The runner is the only place that sees both tasks and the engine: tasks emit requests, the engine
(behind the response cache) answers them, and tasks turn the answers into per-document scores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from evalkit.backends.base import RunContext
from evalkit.bootstrap import bootstrap_stderr
from evalkit.errors import RequestError
from evalkit.task import DataSource, Request, Result, SampleResult, Task
from evalkit.window import window_counts


@dataclass
class TaskRun:
    """The outcome of one task: its metrics, per-document samples and what it cost."""
    task: Task
    metrics: dict[str, float]
    stderr: dict[str, float]
    samples: list[SampleResult]
    num_requests: int
    seconds: float
    engine_stats: dict[str, Any] = field(default_factory=dict)
    window: dict[str, int] | None = None  # generation prompts cut / new tokens capped (evalkit.window)
    documents_total: int | None = None    # documents of the benchmark, before --limit


Serve = Callable[[list[Request]], list[Result]]


def build_requests(task: Task, docs: list[dict], seed: int) -> tuple[list[Request], list[tuple[int, int]]]:
    """All requests of all documents, flattened, and each document's (start, end) slice of them."""
    requests: list[Request] = []
    spans = []
    for doc_id, doc in enumerate(docs):
        doc_requests = task.requests(doc, doc_id, seed)
        spans.append((len(requests), len(requests) + len(doc_requests)))
        requests.extend(doc_requests)
    return requests, spans


def run_task(task: Task, source: DataSource, serve: Serve, seed: int, limit: int | None,
             stats: Callable[[], dict[str, Any]] = dict, context: RunContext = RunContext()) -> TaskRun:
    """Evaluate one task; `serve` answers a list of requests in order (engine + cache + data parallel)."""
    start = time.perf_counter()
    before = stats()
    docs = task.docs(source, limit)
    total = len(task.docs(source)) if limit is not None else len(docs)
    requests, spans = build_requests(task, docs, seed)
    try:
        results = serve(requests)
    except RequestError as error:
        doc_id = next((d for d, (a, b) in enumerate(spans) if error.request in requests[a:b]), None)
        raise RequestError(f"task {task.name}, document {doc_id}: {error}", error.request) from None
    items = [(doc, doc_id, results[a:b]) for doc_id, (doc, (a, b)) in enumerate(zip(docs, spans))]
    samples = task.process_all(items, seed)
    metrics = task.aggregate(samples)
    after = stats()
    used = {key: after[key] - before.get(key, 0) for key in after if isinstance(after[key], (int, float))}
    window = window_counts([requests[a:b] for a, b in spans], context.max_length, context.count_tokens)
    return TaskRun(task, metrics, bootstrap_stderr(samples, task.aggregate, seed=seed), samples,
                   len(requests), time.perf_counter() - start, used, window, total)
