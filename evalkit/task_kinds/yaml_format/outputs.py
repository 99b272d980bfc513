"""Per output type: the requests of one document, and its per-metric items from the answers
(lm-eval's ConfigurableTask.construct_requests and process_results).

Items are what lm-eval's metric functions hand to its aggregations: 0/1 for accuracies, (gold,
prediction) for f1 and mcc, (log-likelihood, words or bytes) for the perplexities of whole texts.
"""
from __future__ import annotations

import math
import re
from typing import Any

from evalkit.errors import DataError
from evalkit.requests import GenerateRequest, LoglikelihoodRequest, RollingLoglikelihoodRequest
from evalkit.task_kinds.yaml_format import metrics
from evalkit.task_kinds.yaml_format.config import YamlConfig


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)  # the first of equal maxima, as np.argmax


def choice_requests(config: YamlConfig, contexts: list[str], choices: list, target: Any, multiple_input: bool,
                    mutual_info: bool) -> list[LoglikelihoodRequest]:
    delimiter = config.target_delimiter
    if multiple_input:  # several contexts, the target as the one continuation
        scored = [LoglikelihoodRequest(context, f"{delimiter}{target}") for context in contexts]
    else:
        scored = [LoglikelihoodRequest(contexts[0], f"{delimiter}{choice}") for choice in choices]
    if mutual_info:  # each choice without context: log P(choice | context) - log P(choice)
        scored += [LoglikelihoodRequest("", f"{delimiter}{choice}") for choice in choices]
    return scored


def generation_request(config: YamlConfig, context: str, seed: int) -> GenerateRequest:
    kwargs = config.generation_kwargs or {}
    sampled = bool(kwargs.get("do_sample", False))
    temperature = float(kwargs.get("temperature", 1.0)) if sampled else 0.0  # greedy without do_sample, as lm-eval's HF
    return GenerateRequest(context, until=tuple(config.until), max_new_tokens=int(kwargs.get("max_gen_toks", 256)),
                           temperature=temperature, top_p=float(kwargs.get("top_p", 1.0)), n=config.repeats, seed=seed)


def multiple_choice_items(used: set[str], choices: list, gold: Any, lls: list[float], greedy: list[bool],
                          unconditional: list[float] | None) -> dict[str, Any]:
    """lm-eval's multiple-choice metrics of one document (`choices` are the contexts for multiple-input tasks)."""
    n = len(choices)
    if isinstance(gold, list):
        gold = [g if g < n else -100 for g in gold]
    elif isinstance(gold, str):
        gold = choices.index(gold) if gold in choices else -100
    elif isinstance(gold, int):
        gold = gold if gold < n else -100
    else:
        raise DataError(f"doc_to_target gave {gold!r}: not a choice index, a choice or a list of indices")
    pred = argmax(lls)
    pred_norm = argmax([ll / float(len(c)) for ll, c in zip(lls, choices)])
    pred_bytes = argmax([ll / float(len(c.encode("utf-8"))) for ll, c in zip(lls, choices)])

    def hit(p: int) -> float:
        return float(p in gold) if isinstance(gold, list) else float(p == gold)

    items = {"acc": hit(pred), "acc_norm": hit(pred_norm), "acc_bytes": hit(pred_bytes), "f1": (gold, pred),
             "mcc": (gold, pred), "likelihood": (gold, lls),
             "exact_match": float(any(greedy[g] for g in gold if g != -100)) if isinstance(gold, list)
             else float(greedy[gold]) if gold != -100 else 0.0}
    if "brier_score" in used:
        top = max(lls)
        exps = [math.exp(ll - top) for ll in lls]
        items["brier_score"] = (gold, [e / sum(exps) for e in exps])
    if "acc_mutual_info" in used:
        items["acc_mutual_info"] = hit(argmax([c - u for c, u in zip(lls, unconditional)]))
    return {k: v for k, v in items.items() if k in used}


def generation_items(settings: list[dict], result: Any, gold: Any) -> dict[str, Any]:
    """lm-eval's generate_until metrics of one filtered answer against the gold."""
    items = {}
    golds = gold if isinstance(gold, list) else None
    if golds is None and type(gold) is not type(result) and not isinstance(result, list) and \
            not any(s["name"] == "bypass" for s in settings):
        gold = type(result)(gold)
    for setting in settings:
        name, metric, options = setting["name"], setting["metric"], setting["options"]
        if name == "exact_match":
            scores = [metrics.exact_match(result, str(g), **options) for g in (golds or [gold])]
            items[name] = 1.0 if golds is not None and any(scores) else scores[0] if golds is None else 0.0
        elif callable(metric):
            value = metric(references=golds or [gold], predictions=[result], **options)
            items.update(value if isinstance(value, dict) else {name: value})
        else:  # corpus-level metrics (bleu, f1, ...): lm-eval passes the pair through to the aggregation
            items[name] = (golds or gold, result)
    return items


def rolling_requests(text: str) -> list[RollingLoglikelihoodRequest]:
    return [RollingLoglikelihoodRequest(text)]


def rolling_items(text: str, loglikelihood: float) -> dict[str, Any]:
    words, nbytes = len(re.split(r"\s+", text)), len(text.encode("utf-8"))
    return {"word_perplexity": (loglikelihood, words), "byte_perplexity": (loglikelihood, nbytes),
            "bits_per_byte": (loglikelihood, nbytes)}
