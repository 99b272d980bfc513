"""A loopback server speaking the Perspective API's `comments:analyze` JSON, with injected faults.

Scores are a deterministic function of the text (not a toxicity model: the tests are about the
client). Texts holding CJK characters (or for which `unsupported` says so) get the API's language error. `faults` lists, per attempt
number of a text, what to do instead of answering: "429", "500", "timeout" (answer after the
client gave up), "garbage" (HTTP 200 with a body that is not JSON), "nojson-score" (JSON without a
score); attempts past the list are answered. Every request is logged with its arrival time.
Run as a script to serve until killed: `python tests/perspective_server.py PORT [FAULT ...]`.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KEY = "test-key"


def fake_toxicity(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class PerspectiveServer:
    def __init__(self, faults: list[str] = (), timeout_sleep_s: float = 0.6, port: int = 0,
                 unsupported=CJK.search):
        self.faults, self.timeout_sleep_s, self.unsupported = list(faults), timeout_sleep_s, unsupported
        self.arrivals: list[float] = []            # time.monotonic() of every request
        self.attempts: Counter = Counter()         # text -> requests received
        self.scored: Counter = Counter()           # text -> score responses sent
        self.lock = threading.Lock()
        self.holding = threading.Event()          # set while a "timeout" fault holds a request
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1alpha1/comments:analyze"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if parse_qs(urlparse(self.path).query).get("key") != [KEY]:
                    return self._send(403, {"error": {"code": 403, "message": "API key not valid.",
                                                      "status": "PERMISSION_DENIED"}})
                text = json.loads(body)["comment"]["text"]
                with server.lock:
                    server.arrivals.append(time.monotonic())
                    attempt = server.attempts[text]
                    server.attempts[text] += 1
                fault = server.faults[attempt] if attempt < len(server.faults) else None
                if fault == "429":
                    return self._send(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})
                if fault == "500":
                    return self._send(500, {"error": {"code": 500, "status": "INTERNAL"}})
                if fault == "timeout":  # the client has given up by the time this arrives
                    server.holding.set()
                    time.sleep(server.timeout_sleep_s)
                    server.holding.clear()
                    return self._send(504, {"error": {"code": 504, "status": "DEADLINE_EXCEEDED"}})
                if fault == "garbage":
                    return self._send(200, b"<html>upstream hiccup")
                if fault == "nojson-score":
                    return self._send(200, {"attributeScores": {}})
                if server.unsupported(text):
                    return self._send(400, {"error": {
                        "code": 400, "status": "INVALID_ARGUMENT",
                        "message": "Attribute TOXICITY does not support request languages: ja",
                        "details": [{"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                                     "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                                     "languageNotSupportedByAttributeError": {"detectedLanguages": ["ja"],
                                                                              "attribute": "TOXICITY"}}]}})
                with server.lock:
                    server.scored[text] += 1
                self._send(200, {"attributeScores": {"TOXICITY": {
                    "spanScores": [{"begin": 0, "end": len(text), "score": {"value": fake_toxicity(text),
                                                                            "type": "PROBABILITY"}}],
                    "summaryScore": {"value": fake_toxicity(text), "type": "PROBABILITY"}}},
                    "languages": ["en"], "detectedLanguages": ["en"]})

            def _send(self, status, payload):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out first, as the fault intended

        return Handler


if __name__ == "__main__":
    server = PerspectiveServer(sys.argv[2:], port=int(sys.argv[1]))
    print(server.url, flush=True)
    server.httpd.serve_forever()
