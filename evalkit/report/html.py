"""The static HTML report: report.html (every table, its notes, each task's protocol, Figure 2 when
given) and, per run and task, pages to browse the samples (prompt, choices with log-likelihoods,
prediction, target). Plain files: no server, no network, no script from elsewhere."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2

from evalkit.report.cells import format_params
from evalkit.report.results import load_samples, samples_path
from evalkit.results import atomic_write

PAGE_SIZE = 500  # documents per samples page
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_SHOWN_FIELDS = ("doc_id", "prompt", "target", "prediction", "metrics", "choices", "loglikelihoods")


def write_html(out: Path, report, results: list[dict], sources: list[Path] | None, figure: Path | None) -> Path:
    """Write out/report.html (and out/browse/<run>/<task>[-<page>].html when `sources` are given)."""
    runs = []
    for index, result in enumerate(results):
        links = {}
        if sources is not None:
            for task in result["results"]:
                if samples_path(sources[index], task).exists():
                    links[task] = _write_sample_pages(out, index, task, result, load_samples(sources[index], task))
        model = result["model"]
        runs.append({"index": index, "result": result, "links": links, "label": model.get("label") or model["name"],
                     "params": format_params(model.get("params")), "fingerprint": model.get("fingerprint", ""),
                     "tokens": (model.get("training") or {}).get("tokens") or "",
                     "protocol": result.get("protocol") or {}, "settings": result.get("run") or {}})
    page = _ENV.get_template("report.html.jinja").render(
        views=report.views, runs=runs, figure=_figure_uri(figure), dumps=_dumps)
    path = out / "report.html"
    atomic_write(path, page)
    return path


def _write_sample_pages(out: Path, run: int, task: str, result: dict, samples: list[dict]) -> str:
    """Pages of PAGE_SIZE documents; returns the first page's path relative to `out`."""
    pages = [samples[start:start + PAGE_SIZE] for start in range(0, len(samples), PAGE_SIZE)] or [[]]
    names = [f"{task}.html" if i == 0 else f"{task}-{i + 1}.html" for i in range(len(pages))]
    headline = result.get("protocol", {}).get(task, {}).get("headline_metric")
    for i, page in enumerate(pages):
        text = _ENV.get_template("samples.html.jinja").render(
            task=task, model=result["model"].get("label") or result["model"]["name"], run=run,
            samples=[_sample_view(s, headline) for s in page], page=i + 1, pages=len(pages),
            previous=names[i - 1] if i > 0 else None, next=names[i + 1] if i + 1 < len(pages) else None,
            first=i * PAGE_SIZE + 1, total=len(samples), headline=headline)
        atomic_write(out / "browse" / str(run) / names[i], text)
    return f"browse/{run}/{names[0]}"


def _sample_view(sample: dict, headline: str | None) -> dict:
    metrics = sample["metrics"]
    correct = metrics.get(headline) if headline in metrics else None
    choices = sample.get("choices")
    lls = sample.get("loglikelihoods") or []
    rows = []
    if isinstance(choices, list):
        for i, choice in enumerate(choices):
            rows.append({"index": i, "text": choice, "ll": lls[i] if i < len(lls) else None,
                         "gold": sample.get("target") == i, "predicted": sample.get("prediction") == i})
    extra = {k: v for k, v in sample.items() if k not in _SHOWN_FIELDS}
    return {"doc_id": sample["doc_id"], "prompt": sample.get("prompt"), "target": sample.get("target"),
            "prediction": sample.get("prediction"), "metrics": metrics, "choices": rows,
            "correct": correct, "extra": {k: _dumps(v)[:2000] for k, v in extra.items()}}


def _figure_uri(figure: Path | None) -> str | None:
    """Figure 2 inlined as a data: URI (PNG), so the page stays one file."""
    if figure is None or figure.suffix.lower() != ".png":
        return None
    return "data:image/png;base64," + base64.b64encode(figure.read_bytes()).decode("ascii")


def _dumps(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
