"""SentencePiece tokenizer wrapper (BOS/EOS, byte fallback) and BPE training with the paper's settings.

LLaMA's tokenizer (section 2.1): BPE via SentencePiece, numbers split into single digits, and
unknown UTF-8 characters decomposed into bytes (byte fallback).
"""
from __future__ import annotations

from pathlib import Path

import sentencepiece as spm

from evalkit.errors import CheckpointError


class Tokenizer:
    def __init__(self, model_file: str | Path):
        path = Path(model_file)
        if not path.is_file():
            raise CheckpointError(f"{path}: tokenizer file not found")
        self.path = path
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.Load(str(path))
        except (OSError, RuntimeError) as error:
            raise CheckpointError(f"{path}: not a SentencePiece model ({str(error).splitlines()[0]})") from None
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        self.vocab_size = self.sp.vocab_size()

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self.sp.EncodeAsIds(text) if text else []
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: list[int]) -> str:
        return self.sp.DecodeIds([i for i in ids if i not in (self.bos_id, self.eos_id)])


def train_tokenizer(input_file: str | Path, output_prefix: str | Path, vocab_size: int) -> Path:
    """Train a BPE SentencePiece model as LLaMA's: split digits, byte fallback. Returns the .model path."""
    spm.SentencePieceTrainer.Train(
        input=str(input_file),
        model_prefix=str(output_prefix),
        model_type="bpe",
        vocab_size=vocab_size,
        split_digits=True,
        byte_fallback=True,
        character_coverage=1.0,      # with byte fallback, rare characters become bytes, not <unk>
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1,  # LLaMA's special ids
        num_threads=1,               # deterministic output
        minloglevel=2,
    )
    return Path(f"{output_prefix}.model")
