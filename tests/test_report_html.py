"""report.html in headless Chromium: it loads offline (the network closed, and the page asks it for
nothing) without a console message, shows every table, and a screenshot of it is not blank. In CI
(CI=true) Chromium must be there."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from evalkit.report import load_results, write_reports

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("CI") != "true":
    pytest.skip("chromium is not installed (scripts/setup.sh test installs it when run as root)",
                allow_module_level=True)


def chromium(page: Path, *flags: str) -> subprocess.CompletedProcess:
    """Headless Chromium on `page`, the network closed (a proxy nobody listens on), its requests
    logged to <page>.netlog.json."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--no-first-run",
         f"--user-data-dir={page.parent / '.chromium'}", f"--log-net-log={page}.netlog.json", *flags,
         page.as_uri()],
        capture_output=True, text=True, timeout=120)


def console_messages(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def page_requests(page: Path) -> list[str]:
    """URLs the page itself asked the network for (the browser's own update checks left out)."""
    log = json.loads(Path(f"{page}.netlog.json").read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"] if event["type"] == start
            and event.get("params", {}).get("network_isolation_key", "").startswith("file://")]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    folders = [FIXTURES / name for name in ("paper-7M", "paper-15M", "stories260K")]
    write_reports(out, [load_results(f) for f in folders], "nearest", folders)
    return out


def test_report_loads_offline_without_console_messages(report_dir):
    done = chromium(report_dir / "report.html", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done) == []
    assert page_requests(report_dir / "report.html") == []
    assert done.stdout.count('<section class="table-section"') == 12
    assert "Table 10: Instruction finetuning" in done.stdout


def test_samples_page_loads_and_runs_its_script_without_errors(report_dir):
    done = chromium(report_dir / "browse" / "2" / "hellaswag.html", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done) == []
    assert done.stdout.count("<article") == 20 and "log-likelihood" in done.stdout


def test_the_check_sees_errors_and_network_requests(tmp_path):
    """The check can fail: a script error and a resource from the network both reach the console."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="https://example.com/x.png">'
                    "<script>notDefined();</script></body></html>")
    messages = console_messages(chromium(page, "--dump-dom"))
    assert any("notDefined" in m for m in messages)
    assert page_requests(page) == ["https://example.com/x.png"]


def test_screenshot_shows_the_tables(report_dir, tmp_path):
    import matplotlib.image
    shot = tmp_path / "report.png"
    done = chromium(report_dir / "report.html", f"--screenshot={shot}", "--window-size=1400,2400",
                    "--hide-scrollbars")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)  # (height, width, channels), floats in [0, 1]
    assert pixels.shape[:2] == (2400, 1400)
    dark = (pixels[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.01 < dark < 0.5  # text and table rules on a white page, neither blank nor black
