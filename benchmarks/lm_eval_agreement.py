"""Per-document agreement between two runs of the same task and documents: evalkit vs lm-eval, or one
harness's bf16 run vs its fp32 run.

evalkit writes `samples/<task>.jsonl` (doc_id, target, loglikelihoods per choice); lm-eval with
`--log_samples` writes `samples_<task>_<time>.jsonl` (doc_id, target, filtered_resps: [loglikelihood,
is_greedy] per choice). A document's prediction is its choice of highest log-likelihood (lm-eval's `acc`
rule) on both sides; documents are matched by doc_id, and their targets must match (same documents).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Agreement:
    task: str
    documents: int
    same_prediction: int
    max_shift: float          # largest |evalkit - lm-eval| log-likelihood of one choice (nat)
    acc_first: float          # mean of (prediction == target), the acc both harnesses report, of the first run
    acc_second: float


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def evalkit_documents(out: Path, task: str) -> dict[int, tuple[int, list[float]]]:
    """doc_id -> (target, log-likelihoods) from an evalkit output folder."""
    rows = [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]
    return {row["doc_id"]: (int(row["target"]), [float(x) for x in row["loglikelihoods"]]) for row in rows}


def lm_eval_documents(out: Path, task: str) -> dict[int, tuple[int, list[float]]]:
    """doc_id -> (target, log-likelihoods) from an lm-eval --output_path folder."""
    found = sorted(out.rglob(f"samples_{task}_*.jsonl"))
    if len(found) != 1:
        raise SystemExit(f"vs_lm_eval: expected one lm-eval samples file for {task} under {out}, found {len(found)}")
    rows = [json.loads(line) for line in found[0].read_text().splitlines()]
    return {row["doc_id"]: (int(row["target"]), [float(r[0]) for r in row["filtered_resps"]]) for row in rows}


def compare(task: str, ours: dict, theirs: dict) -> Agreement:
    """ours, theirs: doc_id -> (target, log-likelihoods), as read by the functions above."""
    if set(ours) != set(theirs):
        raise SystemExit(f"vs_lm_eval: {task}: the two runs scored different documents")
    same, shift, right_ours, right_theirs = 0, 0.0, 0, 0
    for doc_id, (target, lls) in ours.items():
        their_target, their_lls = theirs[doc_id]
        if target != their_target or len(lls) != len(their_lls):
            raise SystemExit(f"vs_lm_eval: {task} document {doc_id}: targets or choices differ between the runs")
        same += _argmax(lls) == _argmax(their_lls)
        shift = max(shift, max(abs(a - b) for a, b in zip(lls, their_lls)))
        right_ours += _argmax(lls) == target
        right_theirs += _argmax(their_lls) == target
    n = len(ours)
    return Agreement(task, n, same, shift, right_ours / n, right_theirs / n)
