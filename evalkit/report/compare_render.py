"""A run comparison as markdown (for a pull request) and as JSON (for CI)."""
from __future__ import annotations

import json
from dataclasses import asdict

import pandas as pd
from tabulate import tabulate

from evalkit.report.compare import LEVEL, Comparison

PROMPT_CHARS = 600  # a flipped document's prompt is cut to its last characters in markdown


def comparison_json(comparison: Comparison) -> str:
    return json.dumps(asdict(comparison), indent=2, ensure_ascii=False, default=str) + "\n"


def comparison_frame(comparison: Comparison) -> pd.DataFrame:
    """One row per (task, metric); missing intervals are NaN."""
    return pd.DataFrame([asdict(d) for d in comparison.deltas], columns=[
        "task", "metric", "a", "b", "delta", "shared_delta", "ci_low", "ci_high", "shared"])


def comparison_markdown(comparison: Comparison) -> str:
    lines = [f"# A: {comparison.a} vs B: {comparison.b}", "",
             f"A: {comparison.a} ({comparison.a_dir}); B: {comparison.b} ({comparison.b_dir}). "
             "A, B and B − A in points (×100) as each run reports them, over its own documents; on shared "
             "documents: the mean difference over the documents both runs scored and its paired bootstrap "
             f"{LEVEL:.0%} interval (– where the samples do not carry the metric per document). A regression "
             "is judged on the shared documents.", ""]
    if comparison.warnings:
        lines += ["**Protocol mismatch**: the two runs do not measure the same thing here:",
                  *(f"- {warning}" for warning in comparison.warnings), ""]
    frame = comparison_frame(comparison)
    body = [[d.task, d.metric, f"{100 * d.a:.1f}", f"{100 * d.b:.1f}", f"{100 * d.delta:+.1f}",
             "–" if pd.isna(d.shared_delta) else f"{100 * d.shared_delta:+.1f}",
             "–" if pd.isna(d.ci_low) else f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}]",
             d.shared or "–"] for d in frame.itertuples()]
    lines.append(tabulate(body, ["task", "metric", "A", "B", "B − A", "B − A (shared)", f"{LEVEL:.0%} CI",
                                 "shared docs"], tablefmt="pipe", disable_numparse=True,
                          colalign=["left", "left", *["right"] * 6]))
    for task, flips in comparison.flips.items():
        counts = comparison.flip_counts[task]
        total = counts["better"] + counts["worse"]
        lines += ["", f"## {task}: {total} flipped ({counts['better']} better in B, {counts['worse']} worse)"]
        if total > len(flips):
            lines.append(f"The first {len(flips)}:")
        for flip in flips:
            lines += ["", f"### document {flip.doc_id}: {flip.metric} {flip.a_score:g} → {flip.b_score:g}", "",
                      _quoted(flip.prompt)]
            if flip.b_prompt is not None:
                lines += ["", "B's prompt:", "", _quoted(flip.b_prompt)]
            lines += ["", f"- target: {flip.target}", f"- A: {flip.a_answer}", f"- B: {flip.b_answer}"]
    return "\n".join(lines) + "\n"


def _quoted(prompt: str | None) -> str:
    text = "" if prompt is None else prompt
    if len(text) > PROMPT_CHARS:
        text = "…" + text[-PROMPT_CHARS:]
    return "\n".join("> " + line for line in text.splitlines()) or "> (no prompt recorded)"
