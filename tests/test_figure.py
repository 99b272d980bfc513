"""Figure 2 from a real series: stories260K interpolated toward a seeded random initialisation at
three points, each evaluated with `run --training-tokens` on three of Figure 2's tasks, then plotted
(one point per checkpoint and task). The accuracy moves with the interpolation."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, STORIES_BIN
from evalkit.cli import build_parser
from evalkit.errors import CheckpointError
from evalkit.report import load_results
from evalkit.report.figure import figure_points, panel_order, plot_figure
from evalkit.report.paper import load_figure_panels
from evalkit.training_progress import training_progress
from interpolated_series import write_interpolated

REPO = Path(__file__).resolve().parents[1]
FRACTIONS = (0.0, 0.5, 1.0)
TOKENS = {0.0: 0, 0.5: 500_000_000, 1.0: 1_000_000_000}  # as if the trained model had seen 1B tokens
TASKS = ["hellaswag", "winogrande", "siqa"]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    outs = []
    for fraction in FRACTIONS:
        checkpoint = write_interpolated(STORIES_BIN, fraction, root / f"ckpt{fraction}" / f"stories260K-{fraction}.bin")
        out = root / f"out{fraction}"
        args = build_parser().parse_args([
            "run", "--model", str(checkpoint), "--tasks", ",".join(TASKS), "--data-dir", str(DATA_DIR),
            "--limit", "10", "--output-dir", str(out), "--no-progress", "--no-cache", "--batch-size", "32",
            "--training-tokens", str(TOKENS[fraction])])
        assert args.handler(args) == 0
        outs.append(out)
    return outs


def gold_loglikelihood(out: Path, task: str) -> float:
    samples = [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]
    return float(np.mean([s["loglikelihoods"][s["target"]] for s in samples]))


def test_training_tokens_are_stored_in_results(series):
    for fraction, out in zip(FRACTIONS, series):
        training = load_results(out)["model"]["training"]
        assert training == {"tokens": TOKENS[fraction], "step": None, "source": "--training-tokens"}


def test_the_model_changes_with_the_interpolation(series):
    for task in TASKS:
        # the gold answers' log-likelihood rises from the random init to the trained weights
        lls = [gold_loglikelihood(out, task) for out in series]
        assert lls[0] < lls[1] < lls[2], (task, lls)
    accuracies = {task: [load_results(out)["results"][task]["acc"] for out in series] for task in TASKS}
    assert any(len(set(values)) > 1 for values in accuracies.values()), accuracies


def test_one_point_per_checkpoint_and_task(series):
    results = [load_results(out) for out in series]
    points, axis = figure_points(results, [str(out) for out in series])
    assert axis == "training tokens" and len(points) == len(TASKS) * len(FRACTIONS)
    figure = plot_figure(points, axis)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["HellaSwag", "SIQA", "WinoGrande"]  # the paper's order
    for ax in visible:
        (container,) = ax.containers  # one family: stories260K's size
        assert list(container[0].get_xdata()) == [0, 500_000_000, 1_000_000_000]
        task = {"HellaSwag": "hellaswag", "SIQA": "siqa", "WinoGrande": "winogrande"}[ax.get_title()]
        headline = results[0]["protocol"][task]["headline_metric"]
        assert list(container[0].get_ydata()) == pytest.approx([100 * r["results"][task][headline] for r in results])


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_figure_command_writes_png_and_pdf(series, tmp_path, suffix, magic):
    output = tmp_path / f"figure2{suffix}"
    done = subprocess.run([sys.executable, "run_eval.py", "figure", *map(str, series), "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes().startswith(magic)


def test_report_html_shows_the_figure(series, tmp_path):
    figure = tmp_path / "figure2.png"
    subprocess.run([sys.executable, "run_eval.py", "figure", *map(str, series), "--output", str(figure)],
                   cwd=REPO, check=True, capture_output=True, timeout=120)
    done = subprocess.run([sys.executable, "run_eval.py", "report", *map(str, series), "--output",
                           str(tmp_path / "report"), "--figure", str(figure)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '<img src="data:image/png;base64,' in (tmp_path / "report" / "report.html").read_text()


def test_runs_without_training_tokens_are_refused(tmp_path):
    output = tmp_path / "f.png"
    folder = REPO / "tests" / "fixtures" / "reports" / "stories260K"
    done = subprocess.run([sys.executable, "run_eval.py", "figure", str(folder), "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "records no training tokens" in done.stderr and not output.exists()


def test_panels_in_the_papers_order_then_the_rest():
    tasks = ["piqa", "boolq", "triviaqa_1shot", "hellaswag", "triviaqa_0shot"]
    assert panel_order(tasks, load_figure_panels()) == [
        ("triviaqa_0shot", "TriviaQA (triviaqa_0shot)"), ("triviaqa_1shot", "TriviaQA (triviaqa_1shot)"),
        ("hellaswag", "HellaSwag"), ("piqa", "PIQA"), ("boolq", "boolq")]


def test_training_tokens_from_a_trainer_state(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 1200, "num_input_tokens_seen": 2_457_600}))
    assert training_progress(str(tmp_path)) == {"tokens": 2_457_600, "step": 1200,
                                                "source": str(tmp_path / "trainer_state.json")}
    assert training_progress(str(tmp_path), tokens=5)["tokens"] == 5  # the flag wins
    (tmp_path / "trainer_state.json").write_text("{")
    with pytest.raises(CheckpointError, match="trainer_state.json: not valid JSON"):
        training_progress(str(tmp_path))
    assert training_progress("tiny") is None
    assert training_progress(None, tokens=7) == {"tokens": 7, "step": None, "source": "--training-tokens"}
