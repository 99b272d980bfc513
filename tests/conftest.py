"""Shared fixtures: paths to ../shared (real data and the stories260K model) and loaded models."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA_DIR = SHARED / "data"
STORIES_DIR = SHARED / "models" / "stories260K"
STORIES_BIN = STORIES_DIR / "stories260K.bin"


@pytest.fixture(scope="session")
def stories():
    """stories260K (llama2.c legacy export) with its tok512 tokenizer, loaded once per session."""
    from evalkit.model.loaders import load_model
    return load_model(str(STORIES_BIN))
