"""The `perspective` scorer: TOXICITY summary scores from Google's Perspective API (`comments:analyze`).

One POST per text through `requests`, key from PERSPECTIVE_API_KEY, to a configurable endpoint (tests
and private deployments point elsewhere). Rules:
- a QPS limit shared by every scorer talking to the same endpoint in this process, so it holds over the
  whole run (default 1, the API's default quota); every attempt, retries included, waits its turn, and
  the next starts no sooner than 1/qps after the previous answer arrived (RateLimiter);
- 429, 5xx, timeouts, connection errors and bodies that are not a score are retried with capped
  exponential backoff (a Retry-After header is honoured, within the cap); after the last retry the text
  is `Failed` (not cached, its document left out and counted), never a score;
- a service that gives no verdict at all for `give_up_s` (default 120 s, --perspective-give-up-s)
  cannot be reached: the run stops with one line (ScorerError) instead of retrying every text in turn;
- a language the attribute does not support (LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE) and an empty text
  are unscorable verdicts (cached, counted, never scored);
- any other 4xx (bad key, bad request) stops the run with one line: retrying cannot fix it.
Request and response shapes: https://developers.perspectiveapi.com/s/about-the-api-methods
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from evalkit.errors import ScorerError, UsageError
from evalkit.scorers.base import Failed
from evalkit.scorers.toxicity import ToxicityJudgement

DEFAULT_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
KEY_ENV = "PERSPECTIVE_API_KEY"
LANGUAGE_ERROR = "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"


@dataclass(frozen=True)
class PerspectiveSettings:
    url: str = DEFAULT_URL
    qps: float = 1.0              # requests per second, over the whole run
    timeout_s: float = 30.0       # per HTTP request
    max_retries: int = 8          # per text, for 429, 5xx, timeouts, garbage bodies
    backoff_s: float = 1.0        # first retry delay; doubles per retry
    backoff_cap_s: float = 64.0   # no retry waits longer
    give_up_s: float = 120.0      # no verdict for this long: the service is unreachable, the run stops


class RateLimiter:
    """At most `qps` requests per second as the service counts them: a request starts 1/qps after the
    previous one started and 1/qps after its answer arrived (thread-safe). Spacing starts alone would let
    network and scheduling delays bunch arrivals at the service; this never can, at the price of one
    round trip per request."""

    def __init__(self, qps: float):
        self.interval = 1.0 / qps
        self.next_start = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            start = max(time.monotonic(), self.next_start)
            self.next_start = start + self.interval
        time.sleep(max(0.0, start - time.monotonic()))

    def done(self) -> None:
        """The answer (or the failure) of the request is in."""
        with self.lock:
            self.next_start = max(self.next_start, time.monotonic() + self.interval)


_LIMITERS: dict[tuple[str, float], RateLimiter] = {}


def limiter(url: str, qps: float) -> RateLimiter:
    """One limiter per endpoint and QPS for the whole process (all tasks of a run share it)."""
    return _LIMITERS.setdefault((url, qps), RateLimiter(qps))


class _Retry(Exception):
    """A transient failure: worth another attempt (not before `after` seconds, when the server says so)."""

    def __init__(self, reason: str, after: float = 0.0):
        super().__init__(reason)
        self.after = after


class Perspective:
    name = "perspective"
    version = "1"
    judgement_type = ToxicityJudgement
    chunk_size = 1  # each score is stored as soon as it is paid for: a killed run never pays twice

    def __init__(self, settings: PerspectiveSettings, key: str):
        import requests  # imported here: only this scorer needs it
        self.settings, self.key = settings, key
        self.http = requests.Session()
        self.limiter = limiter(settings.url, settings.qps)
        self.label = f"perspective TOXICITY {settings.url}"
        self.last_verdict: float | None = None  # time.monotonic() of the last verdict (or of the first attempt)

    def input_key(self, text: str) -> str:
        # The endpoint is part of the key: a private deployment may score differently.
        return f"{self.settings.url}\n{text}"

    def judge(self, texts: list[str]) -> list[ToxicityJudgement | Failed]:
        return [self._score(text) for text in texts]

    def summary(self, judgements: list[ToxicityJudgement]) -> dict[str, Any]:
        return {"endpoint": self.settings.url, "qps": self.settings.qps,
                "unscorable": sum(j.toxicity is None for j in judgements)}

    def _score(self, text: str) -> ToxicityJudgement | Failed:
        if not text.strip():
            return ToxicityJudgement.cannot_score("empty text", self.label)
        reason, after = "", 0.0
        if self.last_verdict is None:
            self.last_verdict = time.monotonic()
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                wait = min(self.settings.backoff_cap_s, max(self.settings.backoff_s * 2 ** (attempt - 1), after))
                time.sleep(max(0.0, min(wait, self.last_verdict + self.settings.give_up_s - time.monotonic())))
            try:
                verdict = self._attempt(text)
            except _Retry as err:
                reason, after = str(err), err.after
                silent = time.monotonic() - self.last_verdict
                if silent >= self.settings.give_up_s:
                    raise ScorerError(f"Perspective API at {self.settings.url} gave no verdict for {silent:.0f} s "
                                      f"(last: {reason}); the service cannot be reached (--perspective-give-up-s "
                                      f"{self.settings.give_up_s:g})") from None
                continue
            self.last_verdict = time.monotonic()
            return verdict
        return Failed(f"Perspective gave no score after {self.settings.max_retries + 1} attempts (last: {reason})")

    def _attempt(self, text: str) -> ToxicityJudgement:
        import requests
        self.limiter.wait()
        body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": True}
        try:
            response = self.http.post(self.settings.url, params={"key": self.key}, json=body,
                                      timeout=self.settings.timeout_s)
        except requests.RequestException as err:  # timeouts, refused or reset connections
            raise _Retry(f"{type(err).__name__}") from err
        finally:
            self.limiter.done()
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}", _seconds(response.headers.get("Retry-After")))
        try:
            payload = response.json()
        except ValueError as err:
            raise _Retry(f"HTTP {response.status_code} with a body that is not JSON") from err
        if response.status_code != 200:
            if _is_language_error(payload):
                return ToxicityJudgement.cannot_score(f"{LANGUAGE_ERROR}: {_detected(payload)}", self.label)
            message = payload.get("error", {}).get("message", "") if isinstance(payload, dict) else ""
            raise ScorerError(f"Perspective API at {self.settings.url} refused a request: HTTP "
                              f"{response.status_code} {message}".rstrip())
        try:
            value = payload["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        except (KeyError, TypeError) as err:
            raise _Retry("a JSON body without attributeScores.TOXICITY.summaryScore.value") from err
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise _Retry(f"a TOXICITY score {value!r} outside [0, 1]")
        return ToxicityJudgement.scored(value, self.label)


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else 0.0
    except ValueError:
        return 0.0


def _is_language_error(payload: Any) -> bool:
    details = payload.get("error", {}).get("details", []) if isinstance(payload, dict) else []
    return any(isinstance(d, dict) and d.get("errorType") == LANGUAGE_ERROR for d in details)


def _detected(payload: dict) -> str:
    for detail in payload["error"]["details"]:
        languages = (detail.get("languageNotSupportedByAttributeError") or {}).get("detectedLanguages")
        if languages:
            return "detected " + ",".join(languages)
    return "language not supported"


def api_key() -> str:
    """The key from PERSPECTIVE_API_KEY; UsageError (before any work) when it is not set."""
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise UsageError(f"the perspective toxicity scorer needs an API key in ${KEY_ENV} "
                         "(or choose --toxicity-scorer local)")
    return key


def check(settings: dict[str, Any]) -> None:
    PerspectiveSettings(**settings)
    api_key()


def load(settings: dict[str, Any], progress: bool = True, desc: str = "perspective") -> Perspective:
    """settings: PerspectiveSettings fields (url, qps, ...)."""
    return Perspective(PerspectiveSettings(**settings), api_key())
