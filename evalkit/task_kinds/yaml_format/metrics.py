"""lm-eval's metrics and aggregations, by its names, with its defaults.

A metric gives one item per document (a number, or a pair such as (gold, prediction) for corpus-level
metrics); its aggregation turns the items of all documents into the task's number. Unless metric_list
says otherwise, each metric takes lm-eval's default aggregation and direction (`DEFAULTS`), and a task
without metric_list reports lm-eval's defaults for its output type (`DEFAULT_METRICS`).
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Any, Callable

from evalkit.errors import UsageError


def mean(items: list) -> float:
    return sum(items) / len(items)


def median(items: list) -> float:
    return sorted(items)[len(items) // 2]


def nanmean(items: list) -> float:
    kept = [x for x in items if not math.isnan(x)]
    return sum(kept) / len(kept) if kept else math.nan


def weighted_mean(items: list) -> float:
    return sum(a for a, _ in items) / sum(b for _, b in items)


def f1(items: list) -> float:
    """Binary F1 of the positive label 1 (scikit-learn's f1_score default), from (gold, prediction) pairs."""
    tp = sum(1 for g, p in items if g == 1 and p == 1)
    wrong = sum(1 for g, p in items if (g == 1) != (p == 1))
    return 2 * tp / (2 * tp + wrong) if tp or wrong else 0.0


def matthews_corrcoef(items: list) -> float:
    """Matthews correlation of (gold, prediction) pairs, multiclass (scikit-learn's formula)."""
    golds, preds = Counter(g for g, _ in items), Counter(p for _, p in items)
    n, correct = len(items), sum(1 for g, p in items if g == p)
    cov = correct * n - sum(golds[k] * preds[k] for k in golds | preds)
    denominator = math.sqrt((n * n - sum(v * v for v in preds.values())) * (n * n - sum(v * v for v in golds.values())))
    return cov / denominator if denominator else 0.0


def brier_score(items: list) -> float:
    return mean([sum((p - (i == gold)) ** 2 for i, p in enumerate(probs)) for gold, probs in items])


def _sacrebleu(kind: str) -> Callable[[list], float]:
    def aggregate(items: list) -> float:
        try:
            import sacrebleu
        except ImportError as err:
            raise UsageError(f"the {kind} metric needs sacrebleu (pip install sacrebleu)") from err
        refs = [r if isinstance(r, (list, tuple)) else [r] for r, _ in items]
        refs = [list(stream) for stream in zip(*refs)]
        preds = [p[0] if isinstance(p, (list, tuple)) else p for _, p in items]
        corpus = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf, "ter": sacrebleu.corpus_ter}[kind]
        return corpus(preds, refs).score
    return aggregate


AGGREGATIONS: dict[str, Callable[[list], float]] = {
    "mean": mean, "median": median, "nanmean": nanmean,
    "perplexity": lambda items: math.exp(-mean(items)),
    "weighted_perplexity": lambda items: math.exp(-weighted_mean(items)),
    "bits_per_byte": lambda items: -weighted_mean(items) / math.log(2),
    "f1": f1, "matthews_corrcoef": matthews_corrcoef, "brier_score": brier_score,
    "bleu": _sacrebleu("bleu"), "chrf": _sacrebleu("chrf"), "ter": _sacrebleu("ter"),
    "bypass": lambda items: 999,
}

# metric -> (default aggregation, higher is better), as lm-eval registers them
DEFAULTS: dict[str, tuple[str, bool]] = {
    "acc": ("mean", True), "acc_norm": ("mean", True), "acc_bytes": ("mean", True),
    "acc_mutual_info": ("mean", True), "exact_match": ("mean", True), "likelihood": ("mean", True),
    "perplexity": ("perplexity", False), "word_perplexity": ("weighted_perplexity", False),
    "byte_perplexity": ("weighted_perplexity", False), "bits_per_byte": ("bits_per_byte", False),
    "f1": ("f1", True), "mcc": ("matthews_corrcoef", True), "brier_score": ("brier_score", False),
    "bleu": ("bleu", True), "chrf": ("chrf", True), "ter": ("ter", False), "bypass": ("bypass", True),
}

DEFAULT_METRICS = {"multiple_choice": ["acc", "acc_norm"], "loglikelihood": ["perplexity", "acc"],
                   "loglikelihood_rolling": ["word_perplexity", "byte_perplexity", "bits_per_byte"],
                   "generate_until": ["exact_match"]}
# what each output type can compute per document without process_results
COMPUTED = {"multiple_choice": {"acc", "acc_norm", "acc_bytes", "acc_mutual_info", "exact_match", "f1", "mcc",
                                "brier_score", "likelihood"},
            "loglikelihood": {"perplexity", "acc"},
            "loglikelihood_rolling": {"word_perplexity", "byte_perplexity", "bits_per_byte"},
            # lm-eval hands any other registered metric of a generation the pair (gold, answer): its aggregation judges
            "generate_until": set(DEFAULTS)}
OPTION_KEYS = {"metric", "aggregation", "higher_is_better", "hf_evaluate"}


def exact_match(prediction: str, reference: str, regexes_to_ignore: list[str] | None = None,
                ignore_case: bool = False, ignore_punctuation: bool = False, ignore_numbers: bool = False) -> float:
    """lm-eval's exact_match (ported from HF evaluate) on one pair, with its options."""
    for pattern in regexes_to_ignore or ():
        prediction, reference = re.sub(pattern, "", prediction), re.sub(pattern, "", reference)
    if ignore_case:
        prediction, reference = prediction.lower(), reference.lower()
    for drop, wanted in ((string.punctuation, ignore_punctuation), (string.digits, ignore_numbers)):
        if wanted:
            table = str.maketrans("", "", drop)
            prediction, reference = prediction.translate(table), reference.translate(table)
    return float(prediction == reference)


def metric_settings(metric_list: list | None, output_type: str) -> list[dict]:
    """Each metric's {metric, aggregation (a name or function), higher_is_better, options}."""
    entries = metric_list if metric_list is not None else [{"metric": m} for m in DEFAULT_METRICS[output_type]]
    found = []
    for entry in entries:
        name = entry["metric"]
        key = name.__name__ if callable(name) else name
        aggregation, higher = DEFAULTS.get(key, ("mean", True))
        found.append({"metric": name, "name": key, "aggregation": entry.get("aggregation", aggregation),
                      "higher_is_better": entry.get("higher_is_better", higher),
                      "options": options(entry)})
    return found


def options(entry: dict) -> dict:
    """A metric_list entry's options for its metric function (`k`, `ignore_case`...)."""
    return {k: v for k, v in entry.items() if k not in OPTION_KEYS}


def aggregate(settings: dict, items: list) -> float:
    aggregation = settings["aggregation"]
    return float(aggregation(items) if callable(aggregation) else AGGREGATIONS[aggregation](items))


def check_metric_list(metric_list: Any, output_type: str, where: str, custom_results: bool = False) -> None:
    """Refuse, naming the file and the key, a metric_list evalkit cannot compute as lm-eval does."""
    if metric_list is None:
        return
    if not isinstance(metric_list, list):
        raise UsageError(f"{where}: key metric_list: a list of {{metric: ...}} entries")
    for entry in metric_list:
        if not isinstance(entry, dict) or "metric" not in entry:
            raise UsageError(f"{where}: key metric_list: an entry without 'metric'")
        name, aggregation = entry["metric"], entry.get("aggregation")
        if entry.get("hf_evaluate") and output_type == "generate_until":  # (multiple choice never calls it)
            raise UsageError(f"{where}: key metric_list: {name} through HF evaluate is not supported")
        if isinstance(aggregation, str) and aggregation not in AGGREGATIONS:
            raise UsageError(f"{where}: key metric_list: unknown aggregation {aggregation!r} of {name}")
        if callable(name) or custom_results:
            continue
        if name not in DEFAULTS:
            raise UsageError(f"{where}: key metric_list: unknown metric {name!r}")
        if name not in COMPUTED.get(output_type, ()):
            raise UsageError(f"{where}: key metric_list: {name} is not computed for output_type {output_type}")
