"""Hub ids up to the network edge: a closed port, a local server answering 404, offline mode, the cache.

Each load runs in a fresh interpreter, because huggingface_hub reads HF_ENDPOINT, HF_HOME and
HF_HUB_OFFLINE when it is imported.
"""
from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from evalkit.model.loaders.hf import looks_like_hub_id
from tests.conftest import REPO, needs_stories
from tests.test_loaders_hf import make_hf_model, save

pytestmark = needs_stories  # reads ../shared

REPO_ID = "evalkit-test/tiny-llama"
LOAD = ("import sys; from evalkit.errors import CheckpointError; from evalkit.model.loaders import load_model\n"
        "try: m = load_model(sys.argv[1]); print('loaded', m.format, m.config.vocab_size)\n"
        "except CheckpointError as e: print('error', e)")


def load_in_subprocess(spec: str, home, endpoint: str, offline: bool = False) -> str:
    env = {**os.environ, "HF_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "1" if offline else "0",
           "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    done = subprocess.run([sys.executable, "-c", LOAD, spec], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once the socket closes


@pytest.fixture
def not_found_server():
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def put_in_cache(home, folder) -> None:
    """Lay out a snapshot as huggingface_hub's cache does: refs/main -> snapshots/<commit>/files."""
    repo_dir = home / "hub" / f"models--{REPO_ID.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(folder, repo_dir / "snapshots" / commit)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)


def test_hub_id_syntax():
    assert looks_like_hub_id("meta-llama/Llama-2-7b-hf") and looks_like_hub_id("huggyllama/llama-7b")
    for spec in ("llama-7b", "/abs/path", "./rel/dir", "a/b/c", "../x", "a/../b", ""):
        assert not looks_like_hub_id(spec), spec


def test_unreachable_hub_names_the_repo(tmp_path):
    out = load_in_subprocess(REPO_ID, tmp_path, closed_port())
    assert out.startswith("error ") and REPO_ID in out and "\n" not in out


def test_repo_not_found_names_the_repo(tmp_path, not_found_server):
    out = load_in_subprocess(REPO_ID, tmp_path, not_found_server)
    assert out.startswith("error ") and REPO_ID in out


def test_offline_without_cache(tmp_path):
    out = load_in_subprocess(REPO_ID, tmp_path, closed_port(), offline=True)
    assert out.startswith("error ") and "HF_HUB_OFFLINE" in out


@pytest.mark.parametrize("offline", [True, False])
def test_cached_repo_loads_without_network(tmp_path, offline):
    put_in_cache(tmp_path / "home", save(make_hf_model(), tmp_path / "model"))
    assert load_in_subprocess(REPO_ID, tmp_path / "home", closed_port(), offline=offline) == "loaded hf 512"
