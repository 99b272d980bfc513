"""Requests as token ids, exactly as lm-evaluation-harness builds them for a LLaMA model.

- Context/continuation: trailing whitespace of the context moves to the continuation; the
  continuation's tokens are those of encode(context + continuation) after encode(context), so a
  merge across the boundary is tokenized as in running text. BOS comes first; an empty context
  leaves BOS alone as the condition.
- Too long: the context is cut from the left so that the forwarded sequence fits the window; the
  continuation is never cut (one longer than the window is scored in windows, as rolling text is).
- Generation: the prompt is kept whole and the new tokens capped to the room left (evalkit.window).
- Rolling windows (lm-eval's get_rolling_token_windows with context_len=1 + make_disjoint_window):
  the first window predicts its tokens from BOS; each later one predicts the next up-to-max_length
  tokens with as much preceding text as fits.
"""
from __future__ import annotations

from dataclasses import dataclass

from evalkit.tokenizer import Tokenizer
from evalkit.window import generation_budget


@dataclass(frozen=True)
class TokenRequest:
    """log P(continuation | context) on token ids; the model forwards (context + continuation)[:-1]."""
    context: tuple[int, ...]       # non-empty (BOS at least, unless cut)
    continuation: tuple[int, ...]


def encode_pair(tokenizer: Tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    context_ids = tokenizer.encode(context, bos=True)
    whole_ids = tokenizer.encode(context + continuation, bos=True)
    return context_ids, whole_ids[len(context_ids):]


def windows(context: list[int], continuation: list[int], max_length: int) -> list[TokenRequest]:
    """Windows that together predict every continuation token exactly once, each forwarding at most
    max_length tokens with as much preceding text as fits.

    A continuation that fits is one window whose context is cut from the left; a longer one is never
    cut but scored in consecutive chunks of max_length tokens (as lm-eval's rolling windows), each
    conditioned on the tokens just before it.
    """
    sequence = list(context) + list(continuation)
    out, start = [], len(context)
    while start < len(sequence):
        end = min(start + max_length, len(sequence))
        out.append(TokenRequest(tuple(sequence[max(0, end - max_length - 1):start]), tuple(sequence[start:end])))
        start = end
    return out


def rolling_windows(tokens: list[int], prefix: int, max_length: int) -> list[TokenRequest]:
    """Disjoint windows that together predict every token of `tokens` exactly once, the first from `prefix`."""
    return windows([prefix], tokens, max_length)


def generation_prompt(tokenizer: Tokenizer, context: str, max_length: int,
                      max_new_tokens: int) -> tuple[list[int], int]:
    """BOS + context kept whole, and the new tokens that fit the window after it (evalkit.window); only
    a prompt longer than the window is cut from the left. lm-eval cuts the prompt to make room for
    max_new_tokens instead, which can leave the model a prompt of one token."""
    ids = tokenizer.encode(context, bos=True)
    budget = generation_budget(len(ids), max_new_tokens, max_length)
    return ids[len(ids) - budget.kept_tokens:], budget.new_tokens


def continuation_text(tokenizer: Tokenizer, prompt: list[int], generated: list[int]) -> str:
    """Text of `generated` as it reads after the prompt: decoding it alone would drop a leading space
    (SentencePiece strips the first piece's), so decode it after the prompt's tail and take the rest."""
    tail = [t for t in prompt[-4:] if t != tokenizer.bos_id]
    before = tokenizer.decode(tail)
    whole = tokenizer.decode(tail + generated)
    return whole[len(before):] if whole.startswith(before) else tokenizer.decode(generated)
