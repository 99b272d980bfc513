"""A transformers tokenizer behind the small interface evalkit's encoding rules use (evalkit/engine/encoding.py):
encode(text, bos), decode(ids), bos_id, eos_id.

The text is encoded as plain text: no special tokens added by the tokenizer (BOS is added here, once),
and a literal "<s>" in a document is text, not the BOS token (as SentencePiece treats it). Models without
a BOS token (GPT-2 and its kin) are conditioned on their end-of-text token instead, as lm-eval does.
"""
from __future__ import annotations

from evalkit.errors import CheckpointError


class HFTokenizer:
    def __init__(self, tokenizer, name: str):
        self.tokenizer = tokenizer
        self.bos_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if self.bos_id is None:
            raise CheckpointError(f"{name}: the tokenizer has neither a BOS nor an EOS token to condition on")
        self.eos_id = tokenizer.eos_token_id
        self.special = {i for i in (tokenizer.bos_token_id, tokenizer.eos_token_id) if i is not None}

    def encode(self, text: str, bos: bool = False) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True) if text else []
        return ([self.bos_id] if bos else []) + ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i not in self.special], clean_up_tokenization_spaces=False)
