"""The `openai` backend: any OpenAI-compatible completions server (vLLM, `evalkit serve`, ...).

No local tokenizer: the server's own tokens are used, as lm-eval's local-completions does.
- Scoring (context, continuation): lm-eval's rule first moves the context's trailing whitespace to the
  continuation; the text context + continuation is sent with `echo`, `logprobs: 1`, `max_tokens: 0`,
  and the returned `text_offset` split it at the (stripped) context's character length. A token belongs
  to the continuation when it begins at or after that point or runs past it. The continuation's
  log-likelihood is the sum of its tokens' log-probabilities; it is greedy when each token's
  log-probability is the best of the position's `top_logprobs`. The first returned token (BOS) has no
  log-probability and is only the condition, as in the bundled engine.
- Window: when the server reports its window (`max_model_len` in /v1/models, as vLLM), scoring asks
  the server to keep the last tokens of a longer prompt (`truncate_prompt_tokens`, vLLM's extension):
  as many as the bundled engine keeps, max_length + 1 (it forwards max_length, the last token is only
  predicted), where the server says it holds them (`max_scored_tokens`, evalkit serve): then a long
  prompt is scored exactly as in process. A server that does not (vLLM) keeps max_length tokens, one
  token of context less than in process on prompts longer than the window. A continuation reaching
  the cut is an error, never a shorter sum.
- Rolling log-likelihood: the whole text in one request, every token after BOS scored given BOS and
  all before it (the bundled engine's first window). A text longer than the window is refused by the
  server and the backend stops with that message: rolling windows would need the server's tokens.
- Generation: `max_tokens`, `temperature`, `top_p`, `stop`, `seed` as asked. Sample j of a request is
  one HTTP request with n = 1 and seed derived from (request seed, j) (`sample_seed`), so each sample is
  reproducible alone and a request whose first k samples are cached asks for exactly samples k..n-1.
  Greedy (temperature 0) asks once and repeats the text. With a known window only a prompt longer than the
  window is cut (`truncate_prompt_tokens`), and the server fits `max_tokens` to the room left, the
  bundled engine's rule (evalkit serve does; a server that refuses prompt + max_tokens beyond its window
  instead stops the run with its message).
- Failures: http_retry.py (429, 5xx, timeouts, connection errors and malformed bodies retried and
  counted). A server that returns no prompt log-probabilities is a clear error: scoring needs them
  (the llama.cpp server does not return them: ggml-org/llama.cpp#27174). A server that refuses
  `max_tokens: 0` stops the run with its own message.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, TypeVar

import requests

from evalkit.backends.base import BackendOptions
from evalkit.backends.http_retry import Malformed, RetryPolicy, ServerRefused, ServerStats, request_json
from evalkit.errors import EvalkitError, UsageError
from evalkit.futures import results_in_order
from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult, cut_at_stop)

T = TypeVar("T")
PROMPTS_PER_REQUEST = 16  # scoring prompts sent in one HTTP request (a list prompt); requests run concurrently
SCORING_NEEDS = ("scoring tasks need prompt log-probabilities: the server must honour echo with logprobs and "
                 "max_tokens 0 (evalkit serve and vLLM do; the llama.cpp server returns generated tokens' only)")


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, base_url: str, api_key: str | None = None, concurrency: int = 4,
                 retry: RetryPolicy = RetryPolicy()):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.stats = ServerStats()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="evalkit-openai")
        self._stop = threading.Event()  # set while a failed batch winds down its sibling requests
        self._local = threading.local()  # one requests.Session per thread (sessions are not thread-safe)
        self._counts: dict[str, int] = {}
        self.server = self._model_entry()
        window = self.server.get("max_model_len")
        self.max_length: int | None = window if isinstance(window, int) and window > 0 else None
        scored = self.server.get("max_scored_tokens")
        self.scored_length = scored if isinstance(scored, int) and self.max_length and scored > 0 else self.max_length
        reported = {k: self.server.get(k) for k in ("id", "root", "owned_by", "max_model_len", "max_scored_tokens")}
        self.fingerprint = hashlib.sha256(json.dumps([self.base_url, model, reported]).encode()).hexdigest()[:16]

    # -- the Backend interface ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"name": self.model, "label": self.model, "format": "openai", "backend": self.name,
                "fingerprint": self.fingerprint, "base_url": self.base_url, "max_length": self.max_length,
                "server": self.server}

    def expect(self, task: str, documents: list, keys: list[str]) -> None:
        pass  # answers are computed, whatever a document asks

    def count_tokens(self, text: str) -> int:
        """BOS + text through the server's /tokenize (vLLM's endpoint, also served by evalkit serve)."""
        if text not in self._counts:
            url = self.base_url.removesuffix("/v1") + "/tokenize"
            try:
                self._counts[text] = self._call("POST", url, {"model": self.model, "prompt": text,
                                                              "add_special_tokens": True}, _token_count)
            except ServerRefused as error:
                raise EvalkitError(f"the server cannot count tokens ({error}); tasks that fit their prompt to "
                                   "the window need a /tokenize endpoint") from None
        return self._counts[text]

    def loglikelihood(self, requests_: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        unique = list(dict.fromkeys(requests_))
        prompts = [(r.context + r.continuation, len(r.context.rstrip())) for r in unique]
        scores = self._score(prompts, truncate=True)
        found = {r: LoglikelihoodResult(*s) for r, s in zip(unique, scores)}
        self.stats.count(requests_served=len(requests_))
        return [found[r] for r in requests_]

    def loglikelihood_rolling(self, requests_: list[RollingLoglikelihoodRequest]) -> list[RollingLoglikelihoodResult]:
        unique = list(dict.fromkeys(requests_))
        try:
            scores = self._score([(r.text, 0) for r in unique], truncate=False)
        except ServerRefused as error:
            raise EvalkitError(f"{error} (the openai backend scores a rolling text in one request, so it must fit "
                               "the server's window)") from None
        found = {r: RollingLoglikelihoodResult(s[0], s[1]) for r, s in zip(unique, scores)}
        self.stats.count(requests_served=len(requests_))
        return [found[r] for r in requests_]

    def generate(self, requests_: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        first_sample = first_sample or {}
        unique = list(dict.fromkeys(requests_))
        wanted = {r: range(min(first_sample.get(r, 0), r.n), r.n) for r in unique}
        calls = [(r, j) for r in unique if wanted[r] and r.max_new_tokens > 0
                 for j in ([0] if r.temperature == 0 else wanted[r])]  # greedy: every sample is sample 0
        texts = dict(zip(calls, self._map(lambda call: self._sample(*call), calls)))
        found = {r: GenerateResult(tuple("" if r.max_new_tokens <= 0 else texts[r, 0 if r.temperature == 0 else j]
                                         for j in wanted[r])) for r in unique}
        self.stats.count(requests_served=len(requests_))
        return [found[r] for r in requests_]

    # -- HTTP -----------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _call(self, method: str, url: str, body: dict[str, Any] | None, parse: Callable[[Any], T]) -> T:
        return request_json(self._session(), method, url, body, parse, self.retry, self.stats, self.headers,
                            self._stop)

    def _map(self, fn: Callable[[Any], T], items: list) -> list[T]:
        """fn over items, up to `concurrency` at once, results in order. The first error is raised once every
        other request has ended (those not started are cancelled, those retrying stop), so that no request
        of a failed run reaches the server after the run has stopped."""
        futures = [self.pool.submit(fn, item) for item in items]
        try:
            return results_in_order(futures)
        except BaseException:
            self._stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
            self._stop.clear()
            raise

    def _model_entry(self) -> dict[str, Any]:
        entries = self._call("GET", self.base_url + "/models", None, _model_list)
        for entry in entries:
            if entry.get("id") == self.model:
                return entry
        served = ", ".join(str(e.get("id")) for e in entries) or "none"
        raise UsageError(f"--model {self.model!r}: not served at {self.base_url} (served: {served})")

    def _completions(self, body: dict[str, Any], parse: Callable[[Any], T]) -> T:
        def parse_and_count(data: Any) -> T:
            out = parse(data)  # a malformed body raises here, before anything is counted
            usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
            self.stats.count(**{k: usage[k] for k in ("prompt_tokens", "completion_tokens")
                                if isinstance(usage.get(k), int)})
            return out
        return self._call("POST", self.base_url + "/completions", {"model": self.model, **body}, parse_and_count)

    def _score(self, prompts: list[tuple[str, int]], truncate: bool) -> list[tuple[float, int, bool]]:
        """(log-likelihood, tokens, greedy) of the text after each prompt's split point."""
        batches = [prompts[i:i + PROMPTS_PER_REQUEST] for i in range(0, len(prompts), PROMPTS_PER_REQUEST)]
        extra = {"truncate_prompt_tokens": self.scored_length} if truncate and self.scored_length else {}

        def one(batch: list[tuple[str, int]]) -> list[tuple[float, int, bool]]:
            body = {"prompt": [text for text, _ in batch], "max_tokens": 0, "echo": True, "logprobs": 1,
                    "temperature": 0.0, **extra}
            return self._completions(body, lambda data: [_split_score(c, text, split, self.scored_length)
                                                         for c, (text, split) in zip(_choices(data, len(batch)),
                                                                                     batch)])
        return [score for scores in self._map(one, batches) for score in scores]

    def _sample(self, request: GenerateRequest, index: int) -> str:
        body = {"prompt": request.context, "max_tokens": request.max_new_tokens, "temperature": request.temperature,
                "top_p": request.top_p, "n": 1, "seed": sample_seed(request.seed, index)}
        if request.until:
            body["stop"] = list(request.until)
        if self.max_length:
            body["truncate_prompt_tokens"] = self.max_length  # cut only a prompt longer than the window
        text = self._completions(body, lambda data: _text(_choices(data, 1)[0]))
        return cut_at_stop(text, request.until)  # servers cut before the stop string; again in case one returns it


def load(options: BackendOptions) -> OpenAIBackend:
    if not options.model:
        raise UsageError("--backend openai needs --model NAME (the name the server serves)")
    if not options.base_url:
        raise UsageError("--backend openai needs --base-url (for example http://127.0.0.1:8000/v1)")
    if options.concurrency < 1 or options.max_retries < 0 or options.timeout_s <= 0:
        raise UsageError("--concurrency must be >= 1, retries >= 0 and the timeout > 0")
    key = None
    if options.api_key_env:
        key = os.environ.get(options.api_key_env)
        if not key:
            raise UsageError(f"--api-key-env {options.api_key_env}: that environment variable is not set")
    return OpenAIBackend(options.model, options.base_url, key, options.concurrency,
                         RetryPolicy(max_retries=options.max_retries, timeout_s=options.timeout_s))


def sample_seed(seed: int, index: int) -> int:
    """The server-side seed of sample `index` of a request: a stable 31-bit hash (any server accepts it)."""
    return int.from_bytes(hashlib.sha256(json.dumps([seed, index]).encode()).digest()[:4], "little") >> 1


# -- reading answers (Malformed: retried; EvalkitError: the server cannot do what is asked) ----------------

def _model_list(data: Any) -> list[dict[str, Any]]:
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise Malformed("GET /models: no list of models under 'data'")
    return entries


def _token_count(data: Any) -> int:
    count = data.get("count") if isinstance(data, dict) else None
    if not isinstance(count, int):
        raise Malformed("/tokenize: no integer 'count'")
    return count


def _choices(data: Any, expected: int) -> list[dict[str, Any]]:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or len(choices) != expected or not all(isinstance(c, dict) for c in choices):
        raise Malformed(f"expected {expected} choices")
    return sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0)


def _text(choice: dict[str, Any]) -> str:
    if not isinstance(choice.get("text"), str):
        raise Malformed("a choice without text")
    return choice["text"]


def _split_score(choice: dict[str, Any], text: str, split: int, window: int | None) -> tuple[float, int, bool]:
    """(sum of log P, tokens, greedy) of the tokens from the character position `split` on."""
    block = choice.get("logprobs")
    if not isinstance(block, dict) or not block.get("token_logprobs"):
        raise EvalkitError(f"the server returned no prompt log-probabilities; {SCORING_NEEDS}")
    values, offsets, tokens = block.get("token_logprobs"), block.get("text_offset"), block.get("tokens")
    top = block.get("top_logprobs")
    if not (isinstance(offsets, list) and isinstance(tokens, list) and isinstance(values, list)
            and len(offsets) == len(tokens) == len(values)):
        raise Malformed("logprobs: tokens, token_logprobs and text_offset differ in length")
    if not isinstance(top, list) or len(top) != len(values):
        raise EvalkitError(f"the server returned no top_logprobs for the prompt; {SCORING_NEEDS}")
    if not all(isinstance(o, int) for o in offsets) or any(b < a for a, b in zip(offsets, offsets[1:])):
        raise Malformed("logprobs: text_offset is not a non-decreasing list of integers")
    start = _continuation_start(offsets, tokens, split, len(text))
    total, greedy = [], True
    for i in range(start, len(values)):
        if not isinstance(values[i], (int, float)):
            cut = f" (the server keeps the last {window} tokens)" if window else ""
            raise EvalkitError(f"no log-probability for token {i} of a scored text{cut}: the continuation does not "
                               f"fit the window, or the server adds no BOS; text starts {text[:60]!r}")
        alternatives = top[i]
        if not isinstance(alternatives, dict) or not alternatives:
            raise EvalkitError(f"the server returned no top_logprobs for token {i}; {SCORING_NEEDS}")
        total.append(float(values[i]))
        greedy = greedy and values[i] >= max(alternatives.values())
    return math.fsum(total), len(total), greedy


def _continuation_start(offsets: list[int], tokens: list[str], split: int, length: int) -> int:
    """Index of the first token at or after character `split`, or running past it. Token 0 has no
    log-probability: a textless one (BOS) is the condition only; one with text of the scored part is
    returned, and the caller stops on its missing log-probability (a server without BOS, or a cut prompt)."""
    ends = offsets[1:] + [length]
    for i, (begin, end) in enumerate(zip(offsets, ends)):
        if begin >= split or end > split:
            return 1 if i == 0 and not tokens[0] else i
    return len(offsets)

