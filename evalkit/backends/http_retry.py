"""JSON over HTTP for backends that call a server: retries with capped exponential backoff, and counters.

Retried: HTTP 408, 429 and 5xx (waiting what Retry-After says when the server says it, else
base * 2^attempt with jitter, capped), timeouts, connection errors, and bodies that are not the JSON
the caller expects (truncated, or missing fields: the caller's parser raises Malformed). Any other
4xx is the request's fault and is not retried: ServerRefused carries the server's message. After the
last retry one EvalkitError line says what failed; the response cache keeps what was answered before,
so a rerun resumes there. Every attempt and every kind of failure is counted in ServerStats, which
results.json's `cost` reports.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, fields
from email.utils import parsedate_to_datetime
from typing import Any, Callable, TypeVar

import requests

from evalkit.errors import EvalkitError

T = TypeVar("T")
RETRIED_STATUS = {408, 429}  # and every 5xx


class Malformed(Exception):
    """The body is JSON but not the answer expected (raised by a parser; the request is retried)."""


class ServerRefused(EvalkitError):
    """The server refused the request itself (a 4xx other than 408/429): retrying cannot help."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6       # attempts after the first
    timeout_s: float = 120.0   # per HTTP request
    base_delay_s: float = 0.5  # first backoff; doubles per retry
    max_delay_s: float = 30.0  # cap of one wait (Retry-After included)

    def backoff(self, retry: int) -> float:
        """Wait before retry number `retry` (1-based): exponential, capped, with jitter in [50%, 100%]."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1)) * (0.5 + random.random() / 2)


@dataclass
class ServerStats:
    """Cumulative counters of one backend's traffic (thread-safe increments through `count`)."""
    requests_served: int = 0      # evalkit requests answered
    http_requests: int = 0        # HTTP attempts, retries included
    retries: int = 0
    rate_limited: int = 0         # HTTP 429
    server_errors: int = 0        # HTTP 5xx and 408
    timeouts: int = 0
    connection_errors: int = 0
    malformed_responses: int = 0  # truncated or unexpected bodies
    prompt_tokens: int = 0        # as the server's `usage` reports them
    completion_tokens: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()

    def count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def request_json(session: requests.Session, method: str, url: str, body: dict[str, Any] | None,
                 parse: Callable[[Any], T], policy: RetryPolicy, stats: ServerStats,
                 headers: dict[str, str] | None = None, stop: threading.Event | None = None) -> T:
    """parse(JSON body) of the first acceptable answer; EvalkitError after policy.max_retries retries.
    Once `stop` is set (a sibling request failed for good), no further attempt is made."""
    last = "no attempt"
    for attempt in range(policy.max_retries + 1):
        if attempt and stop is not None and stop.is_set():
            raise EvalkitError(f"{method} {url}: abandoned: another request of the batch failed")
        if attempt:
            stats.count(retries=1)
        stats.count(http_requests=1)
        wait = None
        try:
            response = session.request(method, url, json=body, headers=headers, timeout=policy.timeout_s)
        except requests.Timeout:
            stats.count(timeouts=1)
            last = f"timed out after {policy.timeout_s:g}s"
        except requests.RequestException as error:  # refused, reset, or a body cut short of its length
            stats.count(connection_errors=1)
            last = f"connection error ({type(error).__name__})"
        else:
            status = response.status_code
            if status in RETRIED_STATUS or status >= 500:
                stats.count(**({"rate_limited": 1} if status == 429 else {"server_errors": 1}))
                last = f"HTTP {status}: {_message(response)}"
                wait = _retry_after(response, policy)
            elif status >= 400:
                raise ServerRefused(status, f"{method} {url}: HTTP {status}: {_message(response)}")
            else:
                try:
                    return parse(response.json())
                except (ValueError, Malformed) as error:  # requests' JSONDecodeError is a ValueError
                    stats.count(malformed_responses=1)
                    last = f"malformed response ({str(error)[:200]})"
        if attempt < policy.max_retries:
            delay = policy.backoff(attempt + 1) if wait is None else wait
            if stop is None:
                time.sleep(delay)
            else:
                stop.wait(delay)
    raise EvalkitError(f"{method} {url}: no valid answer after {policy.max_retries + 1} attempts (last: {last}); "
                       "answers received so far are in the response cache: rerun to resume")


def _message(response: requests.Response) -> str:
    """The server's error message (OpenAI's {"error": {"message"}}) or the start of the body, one line."""
    try:
        error = response.json().get("error")
        text = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        text = response.text
    return " ".join(str(text).split())[:300]


def _retry_after(response: requests.Response, policy: RetryPolicy) -> float | None:
    """Retry-After in seconds or as an HTTP date, capped at max_delay_s; None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), policy.max_delay_s)
