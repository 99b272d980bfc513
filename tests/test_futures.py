"""results_in_order: results in order, a worker's exception raised, and a SIGINT that the kernel handed to
a worker thread still interrupts the main thread while that worker is busy."""
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from evalkit.futures import results_in_order


def test_results_in_order_and_errors():
    with ThreadPoolExecutor(3) as pool:
        assert results_in_order([pool.submit(lambda i=i: i * i) for i in range(7)]) == [i * i for i in range(7)]
        with pytest.raises(TimeoutError, match="its own"):  # a worker's TimeoutError is not mistaken for a wait's
            results_in_order([pool.submit(lambda: (_ for _ in ()).throw(TimeoutError("its own")))])


def test_signal_on_a_worker_thread_interrupts_the_wait():
    release = threading.Event()

    def main_thread_waits() -> bool:
        frame = sys._current_frames()[threading.main_thread().ident]
        while frame is not None and frame.f_code is not results_in_order.__code__:
            frame = frame.f_back
        return frame is not None

    def busy():
        while not main_thread_waits():
            time.sleep(0.01)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # Python's handler runs in the main thread
        release.wait(60)
        return "done"

    pool = ThreadPoolExecutor(1)
    future = pool.submit(busy)
    try:
        with pytest.raises(KeyboardInterrupt):
            results_in_order([future])
        assert not future.done(), "the interrupt waited for the worker"
    finally:
        release.set()
        pool.shutdown()
