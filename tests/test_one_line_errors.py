"""Bad inputs end in one line on stderr and a non-zero exit, never a traceback, and before work is spent;
a NaN model or an empty continuation stops the run naming the task and document."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA_DIR, REPO, STORIES_BIN, STORIES_DIR, needs_shared, needs_stories
from report_fixtures import full_result, partial_result

CLI = [sys.executable, str(REPO / "run_eval.py")]
TINY_RUN = ["run", "--model", "tiny", "--tasks", "boolq", "--examples", "--no-progress"]


def cli(*args, timeout=300):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def assert_one_line(proc, code: int, *words: str) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "foo"])
def test_unavailable_device_is_one_line_before_loading(device, tmp_path):
    start = time.perf_counter()
    proc = cli(*TINY_RUN, "--device", device, "--output-dir", str(tmp_path / "out"))
    assert_one_line(proc, 2, f"--device {device}" if device != "foo" else "--device 'foo'")
    assert not (tmp_path / "out" / "cache.sqlite").exists()
    assert time.perf_counter() - start < 60
    assert_one_line(cli("generate", "--model", "tiny", "--prompt", "Hi", "--device", device), 2, "--device")


def test_output_dir_that_is_a_file_or_unwritable(tmp_path):
    afile = tmp_path / "results"
    afile.write_text("not a folder")
    assert_one_line(cli(*TINY_RUN, "--no-cache", "--output-dir", str(afile)), 2, "is a file")
    assert_one_line(cli(*TINY_RUN, "--no-cache", "--output-dir", str(afile / "sub")), 2, "cannot write there")
    assert afile.read_text() == "not a folder"


def write_out(folder, result):
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(result))
    return folder


def test_report_output_onto_a_file_and_several_folders_without_output(tmp_path):
    first, second = write_out(tmp_path / "a", full_result()), write_out(tmp_path / "b", partial_result())
    target = tmp_path / "report.md"
    target.write_text("mine")
    assert_one_line(cli("report", str(first), "--output", str(target)), 2, "--output", "is a file")
    assert target.read_text() == "mine"
    cli("report", str(first))
    own = (first / "report.md").read_text()
    assert_one_line(cli("report", str(first), str(second)), 2, "--output")
    assert (first / "report.md").read_text() == own  # A's own report is not replaced by the combined one
    done = cli("report", str(first), str(second), "--output", str(tmp_path / "both"))
    assert done.returncode == 0 and (tmp_path / "both" / "report.md").is_file()


def test_jinja_syntax_error_in_a_yaml_task_names_file_and_key(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"q": "a", "answer": "b"}\n')
    task = tmp_path / "broken.yaml"
    task.write_text('task: broken\ndataset_path: json\ndataset_kwargs: {data_files: {test: rows.jsonl}}\ntest_split: test\noutput_type: generate_until\n'
                    'doc_to_text: "Question: {{q}\\nAnswer:"\ndoc_to_target: answer\n')
    assert_one_line(cli(*TINY_RUN[:3], "--tasks", str(task), "--output-dir", str(tmp_path / "out")), 2,
                    str(task), "doc_to_text", "Jinja")


def test_closed_pipe_ends_quietly(tmp_path):
    out = write_out(tmp_path / "a", full_result())
    proc = subprocess.Popen([*CLI, "report", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()  # as `| head -0` does: the reader is gone before anything is written
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


@needs_shared
def test_ctrl_c_says_the_same_command_resumes(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "run", "--model", str(STORIES_BIN), "--tasks", "hellaswag", "--data-dir",
                             str(DATA_DIR), "--output-dir", str(out), "--no-progress", "--batch-size", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.time() + 120
    while not (out / "cache.sqlite").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted; run the same command again to resume")


@needs_stories
def test_nan_checkpoint_stops_the_run_naming_task_and_document(tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    weights = bytearray(STORIES_BIN.read_bytes())
    weights[28 + 4 * 1000:28 + 4 * 1001] = b"\x00\x00\xc0\x7f"  # one embedding weight := NaN
    (broken / "nan.bin").write_bytes(bytes(weights))
    (broken / "tok512.model").write_bytes((STORIES_DIR / "tok512.model").read_bytes())
    proc = cli("run", "--model", str(broken), "--tasks", "boolq", "--examples", "--no-progress",
               "--output-dir", str(tmp_path / "out"))
    assert_one_line(proc, 2, "task boolq, document", "not finite")
    assert not (tmp_path / "out" / "results.json").exists()


def test_empty_continuation_stops_the_run_naming_the_request(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"q": "Pick one", "a": "yes", "b": "", "label": 0}\n')
    task = tmp_path / "empty.yaml"
    rows = tmp_path / "rows.jsonl"  # data_files are read from the working folder (here the repository's)
    task.write_text(f'task: empty_choice\ndataset_path: json\ndataset_kwargs: {{data_files: {{test: {rows}}}}}\ntest_split: test\noutput_type: multiple_choice\n'
                    'doc_to_text: "{{q}}:"\ndoc_to_choice: "{{[a, b]}}"\ndoc_to_target: label\n'
                    'target_delimiter: ""\n')
    proc = cli(*TINY_RUN[:3], "--tasks", str(task), "--no-progress", "--output-dir", str(tmp_path / "out"))
    assert_one_line(proc, 2, "task empty_choice, document 0", "tokenizes to no tokens")
