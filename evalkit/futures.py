"""Waiting on worker threads from the main thread without going deaf to SIGINT and SIGTERM.

The kernel hands a signal sent to the process to any thread not blocking it, usually but not always the
main one. Python runs its handler in the main thread only, between bytecodes; a main thread asleep in a
plain `future.result()` is woken only if the signal landed on it. Landed on a worker, the KeyboardInterrupt
(or the SystemExit our SIGTERM handlers raise) waits until that future completes: minutes, for a boxed
program or an HTTP request. Waiting in short slices lets the handler run within one slice, wherever the
signal landed.
"""
from __future__ import annotations

from concurrent.futures import Future, wait
from typing import TypeVar

T = TypeVar("T")
WAKE_S = 0.1  # how late a signal that landed on a worker thread is handled, at most


def results_in_order(futures: list[Future[T]]) -> list[T]:
    """Each future's result (or its exception, raised), in order, with signals handled as they come."""
    results = []
    for future in futures:
        while not wait([future], timeout=WAKE_S).done:
            pass
        results.append(future.result())
    return results
