"""How far a checkpoint was trained: tokens (and step), given on the command line or read from the
checkpoint where it records them (Hugging Face Trainer's trainer_state.json beside the weights).
Stored as results.json model.training, which the `figure` command plots against."""
from __future__ import annotations

import json
from pathlib import Path

from evalkit.errors import CheckpointError

TRAINER_STATE = "trainer_state.json"


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
