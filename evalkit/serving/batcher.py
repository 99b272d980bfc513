"""Concurrent clients' prompts computed together: a queue drained by one worker thread.

HTTP handlers submit jobs and await their futures; the worker takes everything waiting, scores all
prompt-scoring jobs in one engine call (so the four endings of a question sent by four clients share
their context's forward) and generates all generation jobs in another, then resolves the futures.
The worker is the only thread that touches the engine. An exception fails the jobs of that call
only; the worker goes on with the next batch.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from evalkit.engine import Engine, generation
from evalkit.engine.token_logprobs import token_logprobs
from evalkit.requests import GenerateRequest


@dataclass(eq=False)
class ScoreJob:
    """Per-token log-probabilities of a prompt's ids with `top_k` alternatives: resolves to TokenLogprobs."""
    ids: tuple[int, ...]
    top_k: int
    future: Future = field(default_factory=Future)


@dataclass(eq=False)
class GenerateJob:
    """Samples 0..n-1 of `request` from prompt `ids` (already cut to the window), with at most `budget`
    new tokens (max_tokens fitted to the window): resolves to (texts, how each ended)."""
    request: GenerateRequest
    ids: tuple[int, ...]
    budget: int
    future: Future = field(default_factory=Future)


Job = ScoreJob | GenerateJob


class Batcher:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.batches = 0  # engine rounds so far (a test reads it to see that clients were batched)
        self.thread = threading.Thread(target=self._work, name="evalkit-serve-worker", daemon=True)
        self.thread.start()

    def submit(self, jobs: list[Job]) -> list[Future]:
        for job in jobs:
            self.jobs.put(job)
        return [job.future for job in jobs]

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _work(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self.jobs.put(None)  # stop after this batch
                    break
                batch.append(job)
            self.batches += 1
            self._run([j for j in batch if isinstance(j, ScoreJob)], self._score)
            self._run([j for j in batch if isinstance(j, GenerateJob)], self._generate)

    @staticmethod
    def _run(jobs: list, compute) -> None:
        if not jobs:
            return
        try:
            results = compute(jobs)
        except Exception as error:  # noqa: BLE001 - the clients of this call get a 500; the server goes on
            for job in jobs:
                job.future.set_exception(error)
            return
        for job, result in zip(jobs, results):
            job.future.set_result(result)

    def _score(self, jobs: list[ScoreJob]) -> list:
        engine = self.engine
        top_k = max(job.top_k for job in jobs)
        found = token_logprobs(engine.model, [job.ids for job in jobs], top_k, engine.policy, engine.stats)
        engine.stats.requests_served += len(jobs)
        return [type(f)(f.logprobs, tuple(alternatives[:job.top_k] for alternatives in f.top))
                for job, f in zip(jobs, found)]

    def _generate(self, jobs: list[GenerateJob]) -> list[tuple[tuple[str, ...], tuple[generation.SampleEnd, ...]]]:
        """The same request with different prompt ids (cut differently) cannot share one call: rounds."""
        engine = self.engine
        texts: dict[int, tuple[tuple[str, ...], tuple[generation.SampleEnd, ...]]] = {}
        pending = list(enumerate(jobs))
        while pending:
            prompts: dict[GenerateRequest, tuple[tuple[int, ...], int]] = {}
            later = []
            for i, job in pending:
                if prompts.setdefault(job.request, (job.ids, job.budget)) != (job.ids, job.budget):
                    later.append((i, job))
            ends: dict[tuple[GenerateRequest, int], generation.SampleEnd] = {}
            with torch.inference_mode():
                found = generation.generate(engine.model, engine.tokenizer,
                                            {r: (list(ids), budget) for r, (ids, budget) in prompts.items()},
                                            engine.policy, engine.stats, {}, ends=ends)
            texts.update((i, (found[job.request], tuple(ends[job.request, k] for k in range(job.request.n))))
                         for i, job in pending if (i, job) not in later)
            pending = later
        engine.stats.requests_served += len(jobs)
        return [texts[i] for i in range(len(jobs))]
