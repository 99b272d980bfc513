"""`train-tokenizer`: train a SentencePiece BPE model with LLaMA's settings (split digits, byte fallback).

    run_eval.py train-tokenizer --input corpus.txt --vocab-size 1024 --output evalkit/assets/tiny/tokenizer

writes PREFIX.model (and SentencePiece's PREFIX.vocab listing) from a text file, one sentence per line.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import DataError, UsageError
from evalkit.tokenizer import train_tokenizer


def add_parser(sub):
    parser = sub.add_parser("train-tokenizer", help="train a BPE SentencePiece tokenizer (LLaMA settings)")
    parser.add_argument("--input", required=True, type=Path, help="UTF-8 text file, one sentence per line")
    parser.add_argument("--vocab-size", required=True, type=int, help="size including bytes and specials")
    parser.add_argument("--output", required=True, type=Path, help="output prefix: writes PREFIX.model")
    parser.set_defaults(handler=_handler)


def _handler(args) -> int:
    if not args.input.is_file():
        raise UsageError(f"{args.input}: input file not found")
    if args.vocab_size < 260:  # 3 specials + 256 byte tokens + at least one piece
        raise UsageError(f"--vocab-size {args.vocab_size}: must be at least 260 (3 specials + 256 bytes + 1)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        path = train_tokenizer(args.input, args.output, args.vocab_size)
    except RuntimeError as error:  # SentencePiece: e.g. vocab too large for the corpus
        raise DataError(f"{args.input}: tokenizer training failed ({str(error).strip().splitlines()[-1]})") from None
    print(path)
    return 0
