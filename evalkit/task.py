"""The task interface: what every benchmark plugin in tasks/ provides to the runner.

A task knows its data, prompt template and protocol; it turns documents into requests and
responses into per-document scores. It never imports the model or the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.requests import Request, Result


@dataclass(frozen=True)
class DataSource:
    """Where documents come from: the Hugging Face Hub (default), the authors' files, or shipped examples."""
    data_dir: Path | None = None   # --data-dir: the authors' original files, laid out as ../shared/data
    examples: bool = False         # the handful of example documents shipped for the offline demo


@dataclass
class SampleResult:
    """One document's outcome: written as one line of OUT/samples/<task>.jsonl."""
    doc_id: int
    prompt: str
    target: Any
    prediction: Any
    metrics: dict[str, float]                           # per-document values, averaged by aggregate()
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. choices, loglikelihoods


class Task:
    """Base class of benchmark plugins. Subclasses set `name` and `protocol` and implement the methods."""
    name: str
    protocol: "Any"  # a dataclass describing split, shots, template, normalizer, decoding, metrics, paper cell

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        """The evaluation documents, in their canonical order (first `limit` of them)."""
        raise NotImplementedError

    def requests(self, doc: dict, doc_id: int, seed: int) -> list[Request]:
        """Requests for one document (few-shot examples drawn with `seed`, never the document itself)."""
        raise NotImplementedError

    def process(self, doc: dict, doc_id: int, seed: int, results: list[Result]) -> SampleResult:
        """Turn the results of `requests(doc, doc_id, seed)` (same order) into a SampleResult."""
        raise NotImplementedError

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        """Task-level metrics; default: each per-document metric averaged over the documents that have it
        (so a metric such as MMLU's `acc_stem`, set only on STEM questions, averages over those)."""
        keys = dict.fromkeys(key for s in samples for key in s.metrics)
        means = {}
        for key in keys:
            values = [s.metrics[key] for s in samples if key in s.metrics]
            means[key] = sum(values) / len(values)
        return means

    def process_all(self, items: list[tuple[dict, int, list[Result]]], seed: int) -> list[SampleResult]:
        """Score every document at once; tasks whose scoring is costly (code execution) batch it here."""
        return [self.process(doc, doc_id, seed, results) for doc, doc_id, results in items]
