"""The backend interface: what every model source (bundled LLaMA, transformers, an OpenAI-compatible
server, a generations file) provides to the runner, the response cache and `serve`.

A backend answers plain requests (evalkit.requests) in the order given. It knows nothing of tasks.
The runner hands tasks a RunContext built from the backend (`run_context`: window and token counter),
never the backend itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult, Request,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)
from evalkit.task import RunContext

__all__ = ["Backend", "BackendOptions", "RunContext", "run_context"]


@dataclass(frozen=True)
class BackendOptions:
    """The command-line settings a backend may use (`run`, `score`, `generate` and `serve` share the flags).
    Each backend module exposes `load(options: BackendOptions) -> Backend` and reads what applies to it."""
    model: str | None = None              # --model: checkpoint path, Hub id, or the server's model name
    device: str = "cpu"                   # llama, hf
    dtype: str | None = None              # llama, hf: None keeps the stored dtype
    batch_size: int | str = "auto"        # llama, hf
    deterministic: bool = False           # llama, hf: unbatched, bit-identical
    base_url: str | None = None           # openai: e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None        # openai: name of the environment variable holding the key
    concurrency: int = 4                  # openai: requests in flight at once
    max_retries: int = 6                  # openai: per request, for 429, 5xx, timeouts, malformed bodies
    timeout_s: float = 120.0              # openai: per HTTP request
    generations: Path | None = None       # generations: --load-generations FILE
    tensor_parallel: int = 1              # llama: ranks the model is split over (under torchrun)
    device_memory: int | None = None      # llama, hf: bytes free for batches (None: asked of a CUDA device)


@runtime_checkable
class Backend(Protocol):
    """One interface for every model source.

    - `name`: the backend's registry name ("llama", "hf", "openai", "generations").
    - `max_length`: the context window in tokens (None when unknown).
    - `fingerprint`: identifies the model and every setting that changes answers; the response
      cache keys rows by it, so two backends never share rows unless their answers are the same.
    - `stats`: cumulative counters (a dataclass with `as_dict()`), summed into results.json `cost`.
    """
    name: str
    max_length: int | None
    fingerprint: str
    stats: Any

    def count_tokens(self, text: str) -> int:
        """Tokens of BOS + text as this backend's model sees them (raise NotImplementedError where
        impossible; then max_length must be None)."""

    def describe(self) -> dict[str, Any]:
        """The model section of results.json: at least name, label, format, backend, fingerprint."""

    def expect(self, task: str, documents: list[tuple[str, list[Request]]], keys: list[str]) -> None:
        """Called by the runner for every task of the run before any request is served: the task's name,
        each document's key (`task.doc_key`) with its requests, in order, and the keys of all the task's
        documents (more than those evaluated under --limit). Backends that compute answers do nothing; the
        generations backend deals its file's completions onto the requests (and refuses what it cannot
        answer), so every problem is found before any work is spent."""

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    def loglikelihood_rolling(self, requests: list[RollingLoglikelihoodRequest]) -> list[RollingLoglikelihoodResult]: ...

    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        """n samples per request, each reproducible from (request, seed, sample index); with
        first_sample[r] = k only samples k..n-1 are returned (the cache holds the first k)."""


def run_context(backend: Backend) -> RunContext:
    """What tasks may know of this backend: its window and its token counter (tasks count tokens only
    when the window is known, so a backend without a tokenizer reports max_length None)."""
    return RunContext(backend.max_length, backend.count_tokens)
