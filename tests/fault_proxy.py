"""Test helper: a loopback HTTP proxy in front of a real server that misbehaves on purpose.

Modes:
- "faults": the first attempt of every distinct request (method, path, body) gets one fault, in turn
  429 (Retry-After: 0), 500, no answer until the client times out, and a 200 whose JSON is cut in
  half; the next attempt is forwarded. `injected` counts what was done.
- "no_logprobs": forwards, but removes every choice's logprobs (a server that cannot score prompts).
- "always_503": every request gets 503 (a server that never recovers).
- "pass": forwards everything; with `budget` set, completions beyond the first `budget` get 503 with
  Retry-After: 0 (a server that goes down mid-run). `completions` counts the completions forwarded.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FAULTS = ("429", "500", "timeout", "truncated")


class FaultProxy:
    def __init__(self, upstream: str, mode: str = "faults", stall_s: float = 1.0):
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.mode, self.stall_s = mode, stall_s
        self.injected: Counter[str] = Counter()
        self.budget: int | None = None
        self.completions = 0
        self.seen: set[tuple] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _fault(self, key: tuple) -> str | None:
        if self.mode == "always_503":
            return "503"
        if self.mode == "pass" and key[1].endswith("/completions"):
            with self.lock:
                if self.budget is not None and self.completions >= self.budget:
                    return "503"
                self.completions += 1
        if self.mode != "faults":
            return None
        with self.lock:
            if key in self.seen:
                return None
            self.seen.add(key)
            fault = FAULTS[len(self.seen) % len(FAULTS)]
            self.injected[fault] += 1
            return fault

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (an injected timeout)

            def _serve(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._fault((method, self.path, body))
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0"})
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "injected failure"}}')
                if fault == "503":
                    return self._send(503, b'{"error": {"message": "down"}}', {"Retry-After": "0"})
                if fault == "timeout":
                    time.sleep(proxy.stall_s)
                    return self.close_connection
                answer = requests.request(method, proxy.upstream + self.path, data=body or None,
                                          headers={"Content-Type": "application/json"}, timeout=60)
                content = answer.content
                if fault == "truncated":
                    content = content[:len(content) // 2]
                elif proxy.mode == "no_logprobs" and answer.ok and self.path.endswith("/completions"):
                    data = json.loads(content)
                    for choice in data["choices"]:
                        choice["logprobs"] = None
                    content = json.dumps(data).encode()
                self._send(answer.status_code, content)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler
