"""Run tasks end to end: documents -> requests -> backend -> scorers -> process -> results.

The runner is the only place that sees both tasks and backends: tasks emit requests (told what they
may know of the model through a RunContext), the backend (behind the response cache, sharded across
ranks) answers them, the scorers the task declares judge the answers, and the task turns each
document's requests, with their results and judgements, into its scores.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.backends.base import Backend, run_context
from evalkit.bootstrap import bootstrap_stderr
from evalkit.errors import RequestError
from evalkit.requests import GenerateResult, Request
from evalkit.scorers.judgement_cache import JudgementCache
from evalkit.scorers.stage import judge_answers
from evalkit.serving.dispatch import dispatch
from evalkit.serving.distributed import sum_over_ranks
from evalkit.serving.response_cache import ResponseCache
from evalkit.shots import count_shots, shots_summary
from evalkit.task import Answer, DataSource, RunContext, SampleResult, Task, document_hash
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
    scorers: dict[str, Any] = field(default_factory=dict)           # per scorer: version, counts, summary
    generations: dict[str, list[str]] = field(default_factory=dict)  # doc_key -> generated texts
    window: dict[str, int] | None = None  # generation prompts cut / new tokens capped (evalkit.window)
    documents_total: int | None = None    # documents of the benchmark, before --limit
    documents: int = 0                    # documents asked for (after --limit), judged or not
    shots_used: dict[str, Any] | None = None  # {asked, mean, min, max} (evalkit/shots.py)
    excluded: dict[int, str] = field(default_factory=dict)  # document index -> why it has no judgement

    def shortfall(self) -> str | None:
        """Why the headline metric is not over all the documents evaluated (None: it is): documents left
        out for want of a judgement, or no headline value at all."""
        if self.excluded:
            reason = next(iter(self.excluded.values()))
            return f"{len(self.excluded)} of {len(self.excluded) + len(self.samples)} documents have no " \
                   f"judgement (first: {reason})"
        headline = self.task.protocol_dict().get("headline_metric")
        value = self.metrics.get(headline) if headline else 0.0
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"no {headline} over its {len(self.samples)} documents"
        return None


@dataclass
class Caches:
    """Where answers and judgements persist between runs (None: not at all)."""
    responses: ResponseCache | None = None
    judgements: JudgementCache | None = None


@dataclass
class TaskPlan:
    """A task's documents and their requests, announced to the backend: what run_task will serve."""
    task: Task
    docs: list[dict]
    keys: list[str]                # each document's doc_key
    requests: list[list[Request]]  # per document
    total: int                     # documents of the benchmark, before --limit
    context: RunContext
    seed: int
    seconds: float


def plan_task(task: Task, source: DataSource, backend: Backend, seed: int, limit: int | None) -> TaskPlan:
    """Build a task's requests and announce them to the backend, which refuses what it cannot answer;
    the run plans every task before it serves any, so such a refusal comes before any work."""
    start = time.perf_counter()
    context = run_context(backend)
    docs = task.docs(source, limit)
    every_key = [task.doc_key(doc, doc_id) for doc_id, doc in enumerate(task.docs(source))]
    per_doc = [task.requests(doc, doc_id, seed, context) for doc_id, doc in enumerate(docs)]
    keys = [task.doc_key(doc, doc_id) for doc_id, doc in enumerate(docs)]
    backend.expect(task.name, list(zip(keys, per_doc)), every_key)
    return TaskPlan(task, docs, keys, per_doc, len(every_key), context, seed, time.perf_counter() - start)


def run_task(plan: TaskPlan, backend: Backend, caches: Caches = Caches(), progress: bool = True) -> TaskRun:
    """Evaluate one planned task with `backend`; every rank of a launch calls it and gets the same TaskRun."""
    start = time.perf_counter()
    task, docs, keys, per_doc, seed = plan.task, plan.docs, plan.keys, plan.requests, plan.seed
    before = sum_over_ranks(backend.stats.as_dict())
    requests = [r for doc_requests in per_doc for r in doc_requests]
    try:
        results = iter(dispatch(backend, requests, caches.responses, progress=progress))
    except RequestError as error:  # name the task and the document, not just the request
        doc_id = next((d for d, doc_requests in enumerate(per_doc) if error.request in doc_requests), None)
        raise RequestError(f"task {task.name}, document {doc_id}: {error}", error.request) from None
    answers = [[Answer(r, next(results)) for r in doc_requests] for doc_requests in per_doc]
    judged = judge_answers(task, docs, answers, caches.judgements, progress)
    samples = [replace(task.process(doc, doc_id, seed, doc_answers), doc_hash=document_hash(doc))
               for doc_id, (doc, doc_answers) in enumerate(zip(docs, judged.answers)) if doc_id not in judged.failed]
    count_shots(task, per_doc, samples, plan.context)
    metrics = task.aggregate(samples)
    after = sum_over_ranks(backend.stats.as_dict())
    used = {key: after[key] - before.get(key, 0) for key in after if isinstance(after[key], (int, float))}
    return TaskRun(task, metrics, bootstrap_stderr(samples, task.aggregate, seed=seed), samples,
                   len(requests), plan.seconds + time.perf_counter() - start, used, judged.record,
                   generations(keys, answers), window_counts(per_doc, plan.context.max_length,
                                                             plan.context.count_tokens), plan.total, len(docs),
                   shots_summary(task, samples), dict(judged.failed))


def generations(keys: list[str], answers: list[list[Answer]]) -> dict[str, list[str]]:
    """doc_key -> every generated text of the document, request after request (the generations file's
    `completions`); empty for tasks that generate nothing."""
    if not any(isinstance(a.result, GenerateResult) for doc in answers for a in doc):
        return {}
    return {key: [text for a in doc if isinstance(a.result, GenerateResult) for text in a.result.texts]
            for key, doc in zip(keys, answers)}
