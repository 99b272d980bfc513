"""Test helper: `run_eval.py serve` as a subprocess on a free loopback port, ready when /v1/models answers."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(model: Path | str, *flags: str, timeout_s: float = 60.0):
    """Yield the base URL (http://127.0.0.1:PORT/v1) of a running `serve`; stop it afterwards.

    One torch thread: on a small shared machine, threads spinning for each other make the server 30x slower."""
    port = free_port()
    # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks the server mid-request
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, str(REPO / "run_eval.py"), "serve", "--model", str(model),
                                "--port", str(port), *flags], cwd=REPO, stderr=log, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}: {_read(log)}")
            try:
                if requests.get(base_url + "/models", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start in time")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _read(log) -> str:
    log.seek(0)
    return log.read()
