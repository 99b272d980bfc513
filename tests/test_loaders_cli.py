"""A bad checkpoint given to a command that loads a model: one line on stderr naming the file, exit 2."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, needs_stories
from tests.test_loaders_hf import make_hf_model, save
from tests.test_loaders_meta import write_meta

pytestmark = needs_stories  # reads ../shared


def generate(model: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", "generate", "--model", model, "--prompt", "Once"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_bad_params_json(tmp_path, stories):
    folder = write_meta(tmp_path / "meta", stories, 2)
    (folder / "params.json").write_text('{"dim": 64')
    done = generate(str(folder))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and str(folder / "params.json") in done.stderr


def test_truncated_safetensors(tmp_path):
    folder = save(make_hf_model(), tmp_path / "hf")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:len(data) // 3])
    done = generate(str(folder))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and str(folder / "model.safetensors") in done.stderr
