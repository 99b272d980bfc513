"""Comparing two runs: per task and metric A, B, B - A and a paired bootstrap confidence interval over
the documents both ran; the documents whose prediction flipped; warnings where the protocols or the
document sets differ.

The two runs' samples are joined on each document's content hash (`doc_hash`; doc_id for files written
before it: with --limit per subject, MMLU's doc_id names different questions in two runs). The
regression verdict reads the mean paired difference over the shared documents: the two runs' own means
over different document sets (--limit 10 vs 20) differ without the model changing."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.report.cells import row_label, scorer_name
from evalkit.report.results import is_count, load_results, samples_frame, samples_path

RESAMPLES = 1000
LEVEL = 0.95
LOWER_IS_BETTER = ("toxicity", "bias")  # metric name prefixes where a rise is a regression
# protocol fields whose difference makes the two numbers measure different things
_PROTOCOL_FIELDS = ("prompt_hash", "num_fewshot", "n", "k", "headline_metric")
_RUN_FIELDS = ("limit", "data")


@dataclass(frozen=True)
class MetricDelta:
    task: str
    metric: str
    a: float
    b: float
    delta: float                 # b - a, over each run's own documents (results.json)
    shared_delta: float | None   # mean(b - a) over the documents both runs scored
    ci_low: float | None         # paired bootstrap interval of the mean difference over shared documents;
    ci_high: float | None        # None when the samples do not carry this metric per document
    shared: int                  # documents in both runs with this metric
    same_documents: bool = False  # both runs scored the same documents: `delta` compares like with like

    @property
    def judged(self) -> float | None:
        """The difference a regression verdict reads: the paired mean over shared documents; without
        per-document values, B - A where both runs scored the same documents; else None (no verdict)."""
        if self.shared_delta is not None:
            return self.shared_delta
        return self.delta if self.same_documents else None


@dataclass(frozen=True)
class Documents:
    """How many documents each run scored of a task, and how many of them both scored."""
    a: int | None
    b: int | None
    shared: int | None       # None without both runs' samples
    paired_on: str | None    # "doc_hash", or "doc_id" for samples written before documents were hashed


@dataclass(frozen=True)
class Flip:
    task: str
    doc_id: object
    metric: str                  # the headline metric that changed
    a_score: float
    b_score: float
    prompt: str | None
    b_prompt: str | None         # B's prompt when it differs from A's
    target: object
    a_answer: object             # the prediction, as the choice text when there are choices
    b_answer: object


@dataclass
class Comparison:
    a: str                       # row labels of the two runs
    b: str
    a_dir: str
    b_dir: str
    deltas: list[MetricDelta] = field(default_factory=list)
    flips: dict[str, list[Flip]] = field(default_factory=dict)   # per task, the first `max_flipped`
    flip_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per task: better, worse
    documents: dict[str, Documents] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def compare_runs(dir_a: Path, dir_b: Path, resamples: int = RESAMPLES, seed: int = 1234,
                 max_flipped: int = 10) -> Comparison:
    result_a, result_b = load_results(dir_a), load_results(dir_b)
    comparison = Comparison(row_label(result_a), row_label(result_b), str(dir_a), str(dir_b))
    tasks_a, tasks_b = list(result_a["results"]), list(result_b["results"])
    for only, name, other in ((tasks_a, "A", tasks_b), (tasks_b, "B", tasks_a)):
        missing = [task for task in only if task not in other]
        if missing:
            comparison.warnings.append(f"only in {name}: {', '.join(missing)}")
    for task in (t for t in tasks_a if t in tasks_b):
        comparison.warnings += protocol_mismatches(task, result_a, result_b)
        joined, paired_on = _joined_samples(dir_a, dir_b, task)
        metrics_a, metrics_b = result_a["results"][task], result_b["results"][task]
        documents = Documents(metrics_a.get("n"), metrics_b.get("n"), None if joined is None else len(joined),
                              paired_on)
        comparison.documents[task] = documents
        comparison.warnings += _document_warnings(task, documents)
        same = _same_documents(task, documents, result_a, result_b)
        for metric in (m for m in metrics_a if _is_metric(m, metrics_a) and _is_metric(m, metrics_b)):
            comparison.deltas.append(_delta(task, metric, metrics_a[metric], metrics_b[metric], joined,
                                            resamples, seed, same))
        headline = result_b.get("protocol", {}).get(task, {}).get("headline_metric") or \
            result_a.get("protocol", {}).get(task, {}).get("headline_metric")
        if joined is not None and headline and f"metric:{headline}_a" in joined:
            flips = _flips(task, headline, joined)
            comparison.flip_counts[task] = {
                "better": sum(_better(headline, f) for f in flips),
                "worse": sum(not _better(headline, f) for f in flips)}
            comparison.flips[task] = flips[:max_flipped]
    return comparison


def protocol_mismatches(task: str, result_a: dict, result_b: dict) -> list[str]:
    """One warning per protocol setting that differs between the two runs of `task`."""
    pa, pb = result_a.get("protocol", {}).get(task, {}), result_b.get("protocol", {}).get(task, {})
    ra, rb = result_a.get("run") or {}, result_b.get("run") or {}
    pairs = [(key, pa.get(key), pb.get(key)) for key in _PROTOCOL_FIELDS]
    pairs.append(("scorer", scorer_name(pa), scorer_name(pb)))
    pairs += [(key, ra.get(key), rb.get(key)) for key in _RUN_FIELDS]
    return [f"{task}: {key} differs (A: {_short(a)}, B: {_short(b)})" for key, a, b in pairs if a != b]


def regressions(comparison: Comparison, metric: str, tolerance: float) -> tuple[list[MetricDelta], list[MetricDelta]]:
    """Deltas of `metric` where B is worse than A by more than `tolerance` (a fraction) on the documents
    both runs scored (MetricDelta.judged), and those that cannot be judged (different documents and no
    per-document values)."""
    found, unjudged = [], []
    for delta in comparison.deltas:
        if delta.metric != metric:
            continue
        if delta.judged is None:
            unjudged.append(delta)
            continue
        worse = delta.judged if delta.metric.startswith(LOWER_IS_BETTER) else -delta.judged
        if worse > tolerance:
            found.append(delta)
    return found, unjudged


def paired_bootstrap_interval(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 1234,
                              level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of mean(b - a) over resamples of the paired documents."""
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)  # (n,)
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(diffs), size=(resamples, len(diffs)))  # (resamples, n)
    means = diffs[indices].mean(axis=1)  # (resamples,)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _joined_samples(dir_a: Path, dir_b: Path, task: str) -> tuple[pd.DataFrame | None, str | None]:
    """Both runs' samples of `task`, one row per document both ran (columns suffixed _a and _b, indexed by
    A's doc_id), and what paired them: the documents' hashes where both files carry them, else doc_id."""
    if not (samples_path(dir_a, task).exists() and samples_path(dir_b, task).exists()):
        return None, None
    frame_a, frame_b = samples_frame(dir_a, task), samples_frame(dir_b, task)
    if "doc_hash" not in frame_a or "doc_hash" not in frame_b or frame_a.empty or frame_b.empty:
        return frame_a.add_suffix("_a").join(frame_b.add_suffix("_b"), how="inner"), "doc_id"
    keyed_a, keyed_b = (frame.reset_index().set_index(_document_keys(frame).to_numpy()) for frame in (frame_a, frame_b))
    joined = keyed_a.add_suffix("_a").join(keyed_b.add_suffix("_b"), how="inner")
    return joined.set_index("doc_id_a").rename_axis("doc_id"), "doc_hash"


def _document_keys(frame: pd.DataFrame) -> pd.Series:
    """doc_hash, then '#k' for the k-th repeat of the same document (a benchmark may hold duplicates)."""
    repeat = frame.groupby("doc_hash").cumcount()
    return frame["doc_hash"].astype(str) + "#" + repeat.astype(str)


def _document_warnings(task: str, documents: Documents) -> list[str]:
    if documents.shared is None or documents.a == documents.b == documents.shared:
        return []
    return [f"{task}: document sets differ (A: {documents.a}, B: {documents.b}, both: {documents.shared}, paired "
            f"on {documents.paired_on}); B − A (shared) and the regression verdict are over the shared documents"]


def _same_documents(task: str, documents: Documents, result_a: dict, result_b: dict) -> bool:
    """Both runs scored the same documents: all of them shared, or (without samples) the same count of
    the same data under the same limit."""
    if documents.shared is not None:
        return documents.a == documents.b == documents.shared
    ra, rb = result_a.get("run") or {}, result_b.get("run") or {}
    return documents.a == documents.b and all(ra.get(key) == rb.get(key) for key in _RUN_FIELDS)


def _delta(task, metric, a, b, joined, resamples, seed, same) -> MetricDelta:
    column_a, column_b = f"metric:{metric}_a", f"metric:{metric}_b"
    if joined is None or column_a not in joined or column_b not in joined:
        return MetricDelta(task, metric, a, b, b - a, None, None, None, 0, same)
    pairs = joined[[column_a, column_b]].dropna()
    if len(pairs) == 0:
        return MetricDelta(task, metric, a, b, b - a, None, None, None, 0, same)
    shared_delta = float((pairs[column_b] - pairs[column_a]).mean())
    if len(pairs) < 2:  # one document: a difference, but no interval
        return MetricDelta(task, metric, a, b, b - a, shared_delta, None, None, 1, same)
    low, high = paired_bootstrap_interval(pairs[column_a].to_numpy(), pairs[column_b].to_numpy(), resamples, seed)
    return MetricDelta(task, metric, a, b, b - a, shared_delta, low, high, len(pairs), same)


def _flips(task: str, metric: str, joined: pd.DataFrame) -> list[Flip]:
    changed = joined[joined[f"metric:{metric}_a"] != joined[f"metric:{metric}_b"]].dropna(
        subset=[f"metric:{metric}_a", f"metric:{metric}_b"])
    flips = []
    for doc_id, row in changed.iterrows():
        prompt_a, prompt_b = row.get("prompt_a"), row.get("prompt_b")
        flips.append(Flip(task, _plain(doc_id), metric, float(row[f"metric:{metric}_a"]),
                          float(row[f"metric:{metric}_b"]), prompt_a, prompt_b if prompt_b != prompt_a else None,
                          _plain(row.get("target_a")), _answer(row, "a"), _answer(row, "b")))
    return flips


def _answer(row: pd.Series, side: str) -> object:
    prediction = _plain(row.get(f"prediction_{side}"))
    choices = row.get(f"choices_{side}")
    if isinstance(choices, list) and isinstance(prediction, int) and 0 <= prediction < len(choices):
        return f"{prediction}: {choices[prediction]}"
    return prediction


def _better(metric: str, flip: Flip) -> bool:
    return (flip.b_score < flip.a_score) if metric.startswith(LOWER_IS_BETTER) else flip.b_score > flip.a_score


def _is_metric(name: str, metrics: dict) -> bool:
    """A score, not a document count (n, n_total, n_<group>) nor a standard error."""
    value = metrics.get(name)
    return (not is_count(name) and not name.endswith("_stderr")
            and isinstance(value, (int, float)) and not isinstance(value, bool))


def _plain(value: object) -> object:
    """numpy scalars (from the frame) as Python values, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _short(value: object) -> str:
    return value[:12] if isinstance(value, str) and len(value) == 64 else repr(value)
