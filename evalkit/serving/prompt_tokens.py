"""A prompt as the served model sees it: token ids with each token's text and character offset.

The offsets are what lets a client without our tokenizer split a scored prompt at a character position
(the openai backend splits context from continuation this way). SentencePiece reports where each piece
begins in the input (in bytes; converted to characters here); spans run from one token's offset to the
next, so the texts cover the prompt exactly, whitespace SentencePiece folds included, and the bytes of
a byte-fallback character all begin where the character does (the last one carries its text).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from evalkit.tokenizer import Tokenizer


@dataclass(frozen=True)
class PromptTokens:
    """Token ids (BOS first unless cut away), each token's text and its character offset in the prompt
    (OpenAI's `text_offset`); BOS is "" at offset 0."""
    ids: tuple[int, ...]
    texts: tuple[str, ...]
    offsets: tuple[int, ...]

    def last(self, k: int) -> "PromptTokens":
        """Only the last k tokens (a prompt cut from the left to fit the window)."""
        return PromptTokens(self.ids[-k:], self.texts[-k:], self.offsets[-k:])


def prompt_tokens(tokenizer: Tokenizer, text: str) -> PromptTokens:
    """BOS + text: ids identical to tokenizer.encode(text, bos=True)."""
    pieces = tokenizer.sp.EncodeAsProto(text).pieces if text else []
    char_at_byte = _char_index_of_bytes(text)
    offsets = [0] + [char_at_byte[p.begin] for p in pieces]
    ends = offsets[1:] + [len(text)]
    return PromptTokens(tuple([tokenizer.bos_id] + [p.id for p in pieces]),
                        tuple(text[a:b] for a, b in zip(offsets, [0] + ends[1:])), tuple(offsets))


def _char_index_of_bytes(text: str) -> list[int]:
    """For every UTF-8 byte position of text (and its end), the index of the character it falls in."""
    starts = list(accumulate((len(c.encode()) for c in text), initial=0))  # byte start of each char, then end
    out = []
    for index, (a, b) in enumerate(zip(starts, starts[1:])):
        out.extend([index] * (b - a))
    out.append(len(text))
    return out


def token_text(tokenizer: Tokenizer, token_id: int) -> str:
    """A token's text out of context (for top_logprobs): the piece with SentencePiece's space mark as a space."""
    return tokenizer.sp.IdToPiece(token_id).replace("\u2581", " ")
