"""Without a network, a Hub data load fails in one line at once (evalkit.hub_offline), and with one the Hub
path is untouched. Each case runs in a fresh interpreter: the Hub clients read HF_* variables when imported."""
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import REPO

PROBE = ("import os\nfrom evalkit.hub_offline import offline_without_network\n"
         "print(offline_without_network(), os.environ.get('HF_HUB_OFFLINE'), os.environ.get('HF_DATASETS_OFFLINE'))")


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def hub_env(tmp_path, endpoint: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    return {**env, "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": endpoint, **extra}


def test_run_without_network_is_one_line_at_once(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "run", "--model", "tiny", "--tasks", "boolq",
                           "--limit", "2", "--no-progress", "--output-dir", str(tmp_path / "out")],
                          env=hub_env(tmp_path, closed_port()), cwd=REPO, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Retrying" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: cannot load google/boolq split validation from the Hugging Face Hub: http")
    assert "cannot be reached" in lines[0] and "not in the local cache" in lines[0] and "--data-dir" in lines[0]
    assert seconds < 20, f"{seconds:.1f} s: the Hub clients retried (five retries take about 25 s)"
    assert not (tmp_path / "out").exists()


class _Hub(BaseHTTPRequestHandler):
    heads: list[str] = []

    def do_HEAD(self):  # noqa: N802 - http.server hook
        self.heads.append(self.path)
        self.send_response(404)  # an answer, even an error, says the network reaches the Hub
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_reachable_hub_is_left_online(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        out = subprocess.run([sys.executable, "-c", PROBE], env=hub_env(tmp_path, url), cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    assert out.stdout.split() == ["None", "None", "None"], out.stderr
    assert _Hub.heads == ["/"]


def test_the_users_own_offline_setting_is_not_probed_over(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE], env=hub_env(tmp_path, closed_port(), HF_HUB_OFFLINE="0"),
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["None", "0", "None"], out.stderr
    out = subprocess.run([sys.executable, "-c", PROBE], env=hub_env(tmp_path, closed_port()), cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert "cannot be reached" in out.stdout and out.stdout.split()[-2:] == ["1", "1"], out.stderr
