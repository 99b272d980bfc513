"""Answer a mixed list of requests with any backend: deduplicate, read the response cache, compute the
rest, keep order.

Misses are grouped so requests sharing a context stay together (the llama backend computes a shared
context once), split into chunks, and each chunk's results are written to the cache as soon as it is
done, so a killed run loses at most the chunk in flight. Chunks are sized by time (Pacer): the first of
each request type is small, the next ones as many rows as the speed measured so far computes in about
FLUSH_S seconds (at most chunk_size), so the cache is written at least about every 30 s however slow the
model, and a fast one still gets full chunks. Under a launcher the groups are sharded across ranks
(evalkit.serving.distributed) and every rank returns the full list.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from evalkit.backends.base import Backend
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, Request, Result,
                              RollingLoglikelihoodRequest)
from evalkit.serving.distributed import is_main_process, layout, shard_and_gather, state
from evalkit.serving.progress import RequestsBar, print_summary
from evalkit.serving.response_cache import ResponseCache

CHARS_PER_TOKEN = 4  # rough English average: costs are estimated without tokenizing
FLUSH_S = 20.0       # a chunk's target duration: under 30 s between cache writes, with room for misjudged speed
FIRST_ROWS = 16      # the first chunk of a request type, before its speed is known: one batch's worth
TYPE_ORDER = {LoglikelihoodRequest: 0, RollingLoglikelihoodRequest: 1, GenerateRequest: 2}


@dataclass
class Group:
    """Requests of one type that the backend should see in the same call (same context, for scoring)."""
    requests: list[Request]

    @property
    def kind(self) -> type:
        return type(self.requests[0])

    @property
    def size(self) -> int:
        """Rows the group produces: one per scoring request, n per generation."""
        return sum(getattr(r, "n", 1) for r in self.requests)

    @property
    def cost(self) -> float:
        """Estimated tokens to forward, for balancing ranks and ordering the longest first."""
        first = self.requests[0]
        if isinstance(first, LoglikelihoodRequest):  # the shared context once, then each continuation
            return (len(first.context) + sum(len(r.continuation) for r in self.requests)) / CHARS_PER_TOKEN
        if isinstance(first, RollingLoglikelihoodRequest):
            return len(first.text) / CHARS_PER_TOKEN
        return len(first.context) / CHARS_PER_TOKEN + first.max_new_tokens * first.n  # a decode step per token

    def tokens(self, count: Callable[[str], float]) -> float:
        """`cost` with texts measured by `count` (the model's tokenizer, for balancing ranks): a shard's
        characters per token vary by task and language, its tokens are what the ranks compute."""
        first = self.requests[0]
        if isinstance(first, LoglikelihoodRequest):
            return count(first.context) + sum(count(r.continuation) for r in self.requests)
        if isinstance(first, RollingLoglikelihoodRequest):
            return count(first.text)
        return count(first.context) + first.max_new_tokens * first.n


def token_counter(backend: Backend) -> Callable[[str], float]:
    """Tokens of a text (BOS included) by the backend's tokenizer where it runs in this process
    (`counts_locally`), else characters / CHARS_PER_TOKEN (a server's /tokenize is a request per text)."""
    if not getattr(backend, "counts_locally", False):
        return lambda text: len(text) / CHARS_PER_TOKEN
    return functools.lru_cache(maxsize=1 << 16)(backend.count_tokens)


def group(requests: list[Request]) -> list[Group]:
    """Loglikelihood requests grouped by context; every other request is a group of its own."""
    groups: dict[object, Group] = {}
    for request in requests:
        key = ("ll", request.context) if isinstance(request, LoglikelihoodRequest) else request
        groups.setdefault(key, Group([])).requests.append(request)
    return list(groups.values())


@dataclass
class Pacer:
    """Rows per chunk such that a chunk takes about FLUSH_S seconds, from the rows per second the last
    chunk of the same request type took (FIRST_ROWS before any), never more than `most`."""
    most: int
    rates: dict[type, float] = field(default_factory=dict)

    def size(self, kind: type) -> int:
        rate = self.rates.get(kind)
        return min(self.most, FIRST_ROWS if rate is None else max(1, int(rate * FLUSH_S)))

    def measured(self, kind: type, rows: int, seconds: float) -> None:
        self.rates[kind] = rows / max(seconds, 1e-6)


def chunks(groups: list[Group], size: Callable[[type], int]) -> Iterator[list[Group]]:
    """Consecutive groups of one type, up to size(type) rows per chunk, asked afresh before each chunk
    (a larger group is a chunk alone)."""
    ordered = sorted(groups, key=lambda g: (TYPE_ORDER[g.kind], -g.cost))
    start = 0
    while start < len(ordered):
        kind, limit = ordered[start].kind, size(ordered[start].kind)
        end, rows = start + 1, ordered[start].size
        while end < len(ordered) and ordered[end].kind is kind and rows + ordered[end].size <= limit:
            rows += ordered[end].size
            end += 1
        yield ordered[start:end]
        start = end


def call_backend(backend: Backend, requests: list[Request], stored: dict[Request, Result]) -> list[Result]:
    """One backend call for requests of a single type. A generation whose first samples are stored is
    asked only for the rest (samples are reproducible from request, seed and index), and the stored
    samples, reported before, are kept in front."""
    kind = type(requests[0])
    if kind is LoglikelihoodRequest:
        return backend.loglikelihood(requests)
    if kind is RollingLoglikelihoodRequest:
        return backend.loglikelihood_rolling(requests)
    have = {r: stored[r].texts for r in requests if r in stored}
    new = backend.generate(requests, first_sample={r: len(texts) for r, texts in have.items()})
    return [GenerateResult(have.get(r, ()) + result.texts) for r, result in zip(requests, new)]


def compute(backend: Backend, groups: list[Group], cache: ResponseCache | None, stored: dict[Request, Result],
            chunk_size: int, progress: bool) -> list[list[Result]]:
    """This rank's groups, chunk by chunk (paced), each chunk stored before the next starts. Only rank 0
    shows its progress bar."""
    results: dict[Request, Result] = {}
    bar = RequestsBar(backend, sum(len(g.requests) for g in groups), progress and bool(groups) and is_main_process())
    pacer = Pacer(chunk_size)
    for chunk in chunks(groups, pacer.size):
        requests = [r for g in chunk for r in g.requests]
        start = time.perf_counter()
        answers = call_backend(backend, requests, stored)
        pacer.measured(chunk[0].kind, sum(g.size for g in chunk), time.perf_counter() - start)
        if cache is not None and layout().tp_rank == 0:  # a replica's other ranks computed the same answers
            cache.put(list(zip(requests, answers)))
        results.update(zip(requests, answers))
        bar.update(len(requests))
    bar.close()
    return [[results[r] for r in g.requests] for g in groups]


def dispatch(backend: Backend, requests: list[Request], cache: ResponseCache | None = None, progress: bool = True,
             chunk_size: int = 512) -> list[Result]:
    """Results of `requests` in their order, from the cache where stored, else from the backend.

    A generation whose cache holds k < n samples generates only samples k..n-1 (samples are reproducible
    from request, seed and index) behind the stored ones. Every rank returns the full list.
    """
    start = time.perf_counter()
    unique = list(dict.fromkeys(requests))
    stored = cache.get(unique) if cache is not None else {}
    done = {r: res for r, res in stored.items() if not isinstance(r, GenerateRequest) or len(res.texts) == r.n}
    todo = group([r for r in unique if r not in done])
    # every rank has read the cache before shard_and_gather's first collective, so none can see
    # another's new rows and all agree on `todo`
    count = token_counter(backend) if state().num_processes > 1 else None  # only ranks need balancing
    computed = shard_and_gather(todo, lambda mine: compute(backend, mine, cache, stored, chunk_size, progress),
                                cost=lambda g: g.tokens(count))
    for g, answers in zip(todo, computed):
        done.update(zip(g.requests, answers))
    if progress and is_main_process():
        print_summary(len(requests), len(unique), sum(len(g.requests) for g in todo), state().num_processes,
                      time.perf_counter() - start)
    return [done[r] for r in requests]
