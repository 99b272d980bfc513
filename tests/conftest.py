"""Shared fixtures: paths to ../shared (real data and the stories260K model) and loaded models."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA_DIR = SHARED / "data"
STORIES_DIR = SHARED / "models" / "stories260K"
STORIES_BIN = STORIES_DIR / "stories260K.bin"
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # benchmarks or splits not in ../shared/data


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """../shared/data completed with the fixtures, as one --data-dir: RACE, TriviaQA and RealToxicityPrompts
    (not in ../shared/data) in the authors' layouts, and beside NQ-open's real dev file a small train file
    for few-shot runs."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} is not present")
    root = tmp_path_factory.mktemp("data")
    for entry in DATA_DIR.iterdir():
        if entry.name != "naturalquestions":
            (root / entry.name).symlink_to(entry)
    for name in ("race", "triviaqa", "realtoxicityprompts"):
        (root / name).symlink_to(FIXTURES / name)
    (root / "naturalquestions").mkdir()
    for folder in (DATA_DIR / "naturalquestions", FIXTURES / "naturalquestions"):
        for entry in folder.iterdir():
            (root / "naturalquestions" / entry.name).symlink_to(entry)
    return root


@pytest.fixture(scope="session")
def stories():
    """stories260K (llama2.c legacy export) with its tok512 tokenizer, loaded once per session."""
    from evalkit.model.loaders import load_model
    return load_model(str(STORIES_BIN))
