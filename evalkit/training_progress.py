"""How far a checkpoint was trained: tokens (and step), given on the command line or read from the
checkpoint where it records them (Hugging Face Trainer's trainer_state.json beside the weights).
Stored as results.json model.training, which the `figure` command plots against."""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from evalkit.errors import CheckpointError, UsageError

TRAINER_STATE = "trainer_state.json"
SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}  # as papers write them: 1.4T, 200B


def token_count(text: str) -> int:
    """'1.4T' -> 1_400_000_000_000, '200B', '1e9', '1_000_000' or a plain integer; exact (decimal, no
    float rounding), a whole number of tokens, 0 or more."""
    match = re.fullmatch(r"([0-9][0-9_,.]*(?:e[+-]?[0-9]+)?)([kmbt]?)", text.strip().lower())
    try:
        value = Decimal(match.group(1).replace("_", "").replace(",", "")) * SUFFIXES[match.group(2)]
    except (AttributeError, InvalidOperation):
        value = None
    if value is None or value != value.to_integral_value():
        raise UsageError(f"expected a number of tokens such as 1400000000000, 1.4e12, 1.4T, 200B or 500M, got {text!r}")
    return int(value)


def training_progress(model: str | None, tokens: int | None = None) -> dict | None:
    """{"tokens", "step", "source"}, or None when neither the flag nor the checkpoint says (`model`
    is None when answers come from a generations file)."""
    recorded = _trainer_state(model) if model else None
    if tokens is not None:
        return {"tokens": tokens, "step": (recorded or {}).get("step"), "source": "--training-tokens"}
    return recorded


def _trainer_state(model: str) -> dict | None:
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    state_path = folder / TRAINER_STATE
    if not path.exists() or not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{state_path}: not valid JSON: {error}") from error
    tokens = state.get("num_input_tokens_seen") or None  # 0 when the Trainer did not count them
    step = state.get("global_step")
    if tokens is None and step is None:
        return None
    return {"tokens": tokens, "step": step, "source": str(state_path)}
