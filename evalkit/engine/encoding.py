"""Requests as token ids, exactly as lm-evaluation-harness builds them for a LLaMA model.

- Context/continuation: trailing whitespace of the context moves to the continuation; the
  continuation's tokens are those of encode(context + continuation) after encode(context), so a
  merge across the boundary is tokenized as in running text. BOS comes first; an empty context
  leaves BOS alone as the condition.
- Too long: the context is cut from the left so that the forwarded sequence fits the window; the
  continuation is never cut.
- Rolling windows (lm-eval's get_rolling_token_windows with context_len=1 + make_disjoint_window):
  the first window predicts its tokens from BOS; each later one predicts the next up-to-max_length
  tokens with as much preceding text as fits.
"""
from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import UsageError
from evalkit.tokenizer import Tokenizer


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


def fit_window(context: list[int], continuation: list[int], max_length: int) -> TokenRequest:
    """Cut the context from the left so that len(context + continuation) - 1 <= max_length."""
    if len(continuation) > max_length:
        raise UsageError(f"a continuation of {len(continuation)} tokens does not fit the model's "
                         f"window of {max_length}")
    keep = max_length + 1 - len(continuation)
    return TokenRequest(tuple(context[-keep:]), tuple(continuation))


def rolling_windows(tokens: list[int], prefix: int, max_length: int) -> list[TokenRequest]:
    """Disjoint windows that together predict every token of `tokens` exactly once."""
    if not tokens:
        return []
    first = min(max_length, len(tokens))
    windows = [TokenRequest((prefix,), tuple(tokens[:first]))]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, max_length)
        end = predicted + n
        context = tokens[max(0, end - max_length - 1):predicted]  # the input minus the predicted part
        windows.append(TokenRequest(tuple(context), tuple(tokens[predicted:end])))
        predicted = end
    return windows


def generation_prompt(tokenizer: Tokenizer, context: str, max_length: int, max_new_tokens: int) -> list[int]:
    """BOS + context, cut from the left to leave room for max_new_tokens (as lm-eval does)."""
    ids = tokenizer.encode(context, bos=True)
    return ids[-max(1, max_length - max_new_tokens):]


def continuation_text(tokenizer: Tokenizer, prompt: list[int], generated: list[int]) -> str:
    """Text of `generated` as it reads after the prompt: decoding it alone would drop a leading space
    (SentencePiece strips the first piece's), so decode it after the prompt's tail and take the rest."""
    tail = [t for t in prompt[-4:] if t != tokenizer.bos_id]
    before = tokenizer.decode(tail)
    whole = tokenizer.decode(tail + generated)
    return whole[len(before):] if whole.startswith(before) else tokenizer.decode(generated)
