"""The dtype names every command takes: torch's (float32, bfloat16, float16) and the short forms papers and
other tools write (fp32, bf16, fp16), read as torch's, so that a command one of them prints runs as printed."""
from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16", "auto")  # auto: evalkit/model/auto_dtype.py
ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def dtype_name(text: str) -> str:
    """torch's name for `text` (an unknown name is returned as is, for the caller's `choices` to refuse)."""
    return ALIASES.get(text.lower(), text.lower())
