"""evalkit's engine as an OpenAI-compatible completions server (an ASGI app on Starlette; `serve` runs it).

Endpoints: POST /v1/completions, GET /v1/models (with vLLM's `max_model_len` and evalkit's
`max_scored_tokens`, the window + 1), POST /tokenize (vLLM's
shape: the token counter of a client without a tokenizer), GET /health, GET /stats (the engine's
counters and how many batches the worker ran).

- Scoring: `echo` + `logprobs` + `max_tokens: 0` returns every prompt token's log-probability given the
  tokens before it (the first, BOS, has none: null), its top alternatives and its `text_offset`.
- Generation: `n` samples of up to `max_tokens` tokens, cut before the first `stop` string. Sample j of
  (prompt, seed) is the engine's sample j, reproducible whatever else is in the batch. A prompt is cut
  from the left to leave room for `max_tokens`, as the engine does in process. `completion_tokens` counts
  the tokens the engine generated (an ending EOS included); `finish_reason` is "stop" when EOS or a stop
  string ended a sample, else "length".
- Windows: a prompt longer than the model's window is refused (400) unless `truncate_prompt_tokens`
  asks to keep only its last tokens. A prompt to score may hold one token more than the window: its last
  token is predicted, never forwarded, so the model attends to `max_length` tokens as in process (the
  engine's scoring windows hold max_length + 1 tokens). It must leave two tokens (an empty one is refused).
- Every field is checked before work is queued (completions.py); bad input gets HTTP 400 naming the
  field, and an engine failure fails only its own batch (500). Concurrent requests are computed
  together by one worker thread (batcher.py).
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evalkit.engine import Engine
from evalkit.requests import GenerateRequest
from evalkit.serving.batcher import Batcher, GenerateJob, ScoreJob
from evalkit.serving.completions import (BadRequest, CompletionParams, choice, completion_response, logprobs_block,
                                         parse_completion)
from evalkit.serving.prompt_tokens import PromptTokens, prompt_tokens, token_text
from evalkit.window import generation_budget


def create_app(engine: Engine, name: str) -> Starlette:
    """The server for `engine`, answering to model name `name`."""
    window = engine.max_length
    tokenizer = engine.tokenizer
    started = int(time.time())
    batcher: Batcher | None = None

    @asynccontextmanager
    async def lifespan(app):
        nonlocal batcher
        batcher = Batcher(engine)
        yield
        batcher.close()

    async def completions(request: Request) -> JSONResponse:
        params = parse_completion(await _json_body(request), window)
        if params.model != name:
            raise BadRequest("model", f"model {params.model!r} is not served here; this server serves {name!r}", 404)
        prompts = [_fit(prompt_tokens(tokenizer, text), params, window, i) for i, text in enumerate(params.prompts)]
        jobs = _jobs(params, prompts, window)
        answers = await asyncio.gather(*(asyncio.wrap_future(f) for f in batcher.submit(list(jobs.values()))))
        found = dict(zip(jobs, answers))
        choices, completion_tokens = [], 0
        for i, (text, tokens) in enumerate(zip(params.prompts, prompts)):
            for j in range(params.n):
                index = i * params.n + j
                if params.max_tokens > 0:
                    texts, ends = found[i]
                    completion_tokens += ends[j].tokens
                    choices.append(choice(index, (text if params.echo else "") + texts[j],
                                          "stop" if ends[j].stopped else "length"))
                else:
                    choices.append(choice(index, text if params.echo else "", "length",
                                          _logprobs(params, tokens, found.get(i), tokenizer)))
        return JSONResponse(completion_response(f"cmpl-{uuid.uuid4().hex}", int(time.time()), name, choices,
                                                sum(len(t.ids) for t in prompts), completion_tokens))

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{
            "id": name, "object": "model", "created": started, "owned_by": "evalkit", "root": engine.loaded.name,
            "max_model_len": window, "max_scored_tokens": window + 1}]})

    async def tokenize(request: Request) -> JSONResponse:
        body = await _json_body(request)
        text = body.get("prompt") if isinstance(body, dict) else None
        special = body.get("add_special_tokens", True) if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise BadRequest("prompt", "prompt: expected a string")
        if not isinstance(special, bool):
            raise BadRequest("add_special_tokens", "add_special_tokens: expected true or false")
        ids = tokenizer.encode(text, bos=special)
        return JSONResponse({"tokens": ids, "count": len(ids), "max_model_len": window})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"batches": batcher.batches, **engine.stats.as_dict()})

    async def bad_request(request: Request, error: BadRequest) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    async def server_error(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(BadRequest(None, f"{type(error).__name__}: {error}", 500).body(), status_code=500)

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"]),
                             Route("/v1/models", models, methods=["GET"]),
                             Route("/tokenize", tokenize, methods=["POST"]),
                             Route("/health", health, methods=["GET"]),
                             Route("/stats", stats, methods=["GET"])],
                     exception_handlers={BadRequest: bad_request, Exception: server_error}, lifespan=lifespan)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest("body", f"body: not valid JSON ({error})") from None


def _fit(tokens: PromptTokens, params: CompletionParams, window: int, index: int) -> PromptTokens:
    """Cut as asked (truncate_prompt_tokens) and refuse what still exceeds the window (one token more
    when scoring: the last is not forwarded). The prompt is kept whole otherwise: max_tokens is capped to
    the room left in the window, as the engine does in process (evalkit.window)."""
    if params.truncate_prompt_tokens is not None:
        tokens = tokens.last(params.truncate_prompt_tokens)
    room = window + 1 if params.scores_prompt else window
    if len(tokens.ids) > room:
        raise BadRequest("prompt", f"prompt {index}: {len(tokens.ids)} tokens exceed the {room} tokens a "
                                   f"{'scoring' if params.scores_prompt else 'generation'} request holds "
                                   "(truncate_prompt_tokens keeps the last ones)")
    if params.scores_prompt and len(tokens.ids) < 2:  # the first token is only the condition
        if params.truncate_prompt_tokens is not None and len(tokens.ids) == params.truncate_prompt_tokens:
            raise BadRequest("truncate_prompt_tokens", "truncate_prompt_tokens: scoring keeps at least 2 tokens "
                                                       "(the first has no log-probability)")
        raise BadRequest("prompt", f"prompt {index}: empty, nothing to score (BOS alone has no log-probability)")
    return tokens


def _jobs(params: CompletionParams, prompts: list[PromptTokens], window: int) -> dict[int, ScoreJob | GenerateJob]:
    """The engine work of each prompt (by prompt index); none for echo without scoring or generating."""
    if params.max_tokens > 0:
        return {i: GenerateJob(GenerateRequest(text, params.stop, params.max_tokens, params.temperature, params.top_p,
                                               params.n, params.seed), tokens.ids,
                               generation_budget(len(tokens.ids), params.max_tokens, window).new_tokens)
                for i, (text, tokens) in enumerate(zip(params.prompts, prompts))}
    if params.scores_prompt:
        return {i: ScoreJob(tokens.ids, params.logprobs) for i, tokens in enumerate(prompts)}
    return {}


def _logprobs(params: CompletionParams, tokens: PromptTokens, found, tokenizer) -> dict[str, Any] | None:
    if params.logprobs is None:
        return None
    if not params.echo:  # nothing generated and the prompt not echoed: no tokens to describe
        return {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    top = tuple(tuple((token_text(tokenizer, t), v) for t, v in alternatives) for alternatives in found.top)
    return logprobs_block(tokens, found.logprobs, top)
