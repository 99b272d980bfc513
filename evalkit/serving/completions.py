"""The OpenAI completions API as `serve` speaks it: request bodies checked field by field, response shapes.

A body is checked completely before any work is queued; a bad field raises BadRequest naming it, which
the server answers with HTTP 400 and OpenAI's error shape. Besides OpenAI's fields, `truncate_prompt_tokens`
(vLLM's extension) keeps only the last k tokens of each prompt, which is how a client without a tokenizer
fits a long prompt to the window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evalkit.serving.prompt_tokens import PromptTokens

MAX_N = 128          # samples per prompt
MAX_LOGPROBS = 20    # top alternatives per position (vLLM's default limit; OpenAI allows 5)
MAX_PROMPTS = 4096   # prompts per request
MAX_STOPS = 16


class BadRequest(Exception):
    """A request the server refuses: HTTP `status` with OpenAI's error body naming the field (`param`)."""

    def __init__(self, param: str | None, message: str, status: int = 400):
        super().__init__(message)
        self.param, self.message, self.status = param, message, status

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.status}}


@dataclass(frozen=True)
class CompletionParams:
    model: str
    prompts: tuple[str, ...]
    max_tokens: int
    temperature: float
    top_p: float
    n: int
    stop: tuple[str, ...]
    seed: int
    logprobs: int | None                # top alternatives per position; None: no logprobs at all
    echo: bool
    truncate_prompt_tokens: int | None  # keep the last k prompt tokens (BOS included when kept); at most the
                                        # window, + 1 when scoring (the last token is not forwarded)

    @property
    def scores_prompt(self) -> bool:
        """echo + logprobs + max_tokens 0: per-token log-probabilities of the prompt, nothing generated."""
        return self.echo and self.logprobs is not None and self.max_tokens == 0


def parse_completion(body: Any, window: int) -> CompletionParams:
    """Check every field of a /v1/completions body; BadRequest names the first field at fault."""
    if not isinstance(body, dict):
        raise BadRequest(None, "the body must be a JSON object")
    known = {"model", "prompt", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "logprobs", "echo",
             "truncate_prompt_tokens", "stream", "user", "best_of", "presence_penalty", "frequency_penalty",
             "logit_bias", "suffix"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(unknown[0], f"unknown field {unknown[0]!r}")
    for name, neutral in (("stream", False), ("presence_penalty", 0), ("frequency_penalty", 0),
                          ("logit_bias", {}), ("suffix", None)):
        if body.get(name, neutral) not in (neutral, None):
            raise BadRequest(name, f"{name} is not supported by evalkit serve")
    if body.get("best_of") not in (None, 1, body.get("n", 1)):
        raise BadRequest("best_of", "best_of other than n is not supported by evalkit serve")
    model = body.get("model")
    if not isinstance(model, str):
        raise BadRequest("model", "model: expected the served model's name (a string)")
    params = CompletionParams(
        model=model,
        prompts=_prompts(body.get("prompt")),
        max_tokens=_integer(body, "max_tokens", 16, 0, window),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        n=_integer(body, "n", 1, 1, MAX_N),
        stop=_stop(body.get("stop")),
        seed=_integer(body, "seed", 0, -(1 << 63), (1 << 63) - 1),
        logprobs=_integer(body, "logprobs", None, 0, MAX_LOGPROBS),
        echo=_boolean(body, "echo", False),
        truncate_prompt_tokens=_integer(body, "truncate_prompt_tokens", None, 1, window + 1))
    if (params.truncate_prompt_tokens or 0) > window and not params.scores_prompt:
        raise BadRequest("truncate_prompt_tokens", f"truncate_prompt_tokens: at most {window} (the window) unless "
                                                   "scoring a prompt (echo, logprobs, max_tokens 0)")
    if params.logprobs is not None and params.max_tokens > 0:
        raise BadRequest("logprobs", "logprobs of generated tokens are not supported; use echo with max_tokens 0 "
                                     "to score a prompt")
    return params


def _prompts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        if len(value) > MAX_PROMPTS:
            raise BadRequest("prompt", f"prompt: at most {MAX_PROMPTS} prompts per request, got {len(value)}")
        return tuple(value)
    if isinstance(value, list) and value and all(isinstance(p, (int, list)) for p in value):
        raise BadRequest("prompt", "prompt: token-id prompts are not supported; send text")
    raise BadRequest("prompt", "prompt: expected a string or a non-empty list of strings")


def _integer(body: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(name, f"{name}: expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise BadRequest(name, f"{name}: {value} is out of range [{low}, {high}]")
    return value


def _number(body: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise BadRequest(name, f"{name}: expected a finite number, got {value!r}")
    if value > high or value < low or (low_open and value == low):
        raise BadRequest(name, f"{name}: {value} is out of range {'(' if low_open else '['}{low}, {high}]")
    return float(value)


def _boolean(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(name, f"{name}: expected true or false, got {value!r}")
    return value


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > MAX_STOPS:
        raise BadRequest("stop", f"stop: expected a string or a list of at most {MAX_STOPS} strings")
    return tuple(s for s in stops if s)


def logprobs_block(tokens: PromptTokens, values: tuple[float, ...],
                   top: tuple[tuple[tuple[str, float], ...], ...]) -> dict[str, Any]:
    """OpenAI's logprobs object for an echoed prompt: the first token has no log-probability (null)."""
    return {"tokens": list(tokens.texts), "token_logprobs": [None, *values],
            "top_logprobs": [None, *(_by_text(alternatives) for alternatives in top)],
            "text_offset": list(tokens.offsets)}


def _by_text(alternatives: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """Best first; two tokens with the same text keep the better one (JSON keys are unique)."""
    out: dict[str, float] = {}
    for text, value in alternatives:
        out.setdefault(text, value)
    return out


def choice(index: int, text: str, finish_reason: str, logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}


def completion_response(request_id: str, created: int, model: str, choices: list[dict[str, Any]],
                        prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"id": request_id, "object": "text_completion", "created": created, "model": model, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
