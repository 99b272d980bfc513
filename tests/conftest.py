"""Shared fixtures: paths to ../shared (real data and the stories260K model) and loaded models."""
from __future__ import annotations

import json
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

# Tests that read ../shared (real benchmark files, the stories260K model) skip without it, with the reason.
needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} is not present (real benchmark files)")
needs_stories = pytest.mark.skipif(not STORIES_BIN.is_file(), reason=f"{STORIES_BIN} is not present")
needs_shared = pytest.mark.skipif(not (DATA_DIR.is_dir() and STORIES_BIN.is_file()),
                                  reason=f"{SHARED} is not present (benchmark files and the stories260K model)")


def stories_reference() -> dict:
    """stories260K's reference outputs (llama2.c run.c). Without ../shared, an empty one, so that modules
    still collect: the tests reading it take the `stories` fixture or carry needs_stories, and skip."""
    path = STORIES_DIR / "reference_outputs.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"prompt": "", "prompt_ids_with_bos": [], "greedy_ids_with_bos": [], "greedy_text": "",
            "greedy_steps": 0, "sentence_logliks": [], "prompt_logits_float32": {"values": []}}


@pytest.fixture(scope="session")
def stories():
    """stories260K (llama2.c legacy export) with its tok512 tokenizer, loaded once per session."""
    if not STORIES_BIN.is_file():
        pytest.skip(f"{STORIES_BIN} is not present")
    from evalkit.model.loaders import load_model
    return load_model(str(STORIES_BIN))
