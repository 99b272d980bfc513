"""The scoring stage: every scorer a task declares judges the task's answers, through the judgement cache.

Inputs are deduplicated, cached ones are read back, the rest are judged (sharded across ranks under a
launcher) and stored. A document with any `Failed` judgement is left out of the metrics and counted (the
run is then incomplete); a scorer that cannot work at all raises ScorerError, which stops the run.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import EvalkitError, ScorerError
from evalkit.scorers import load_scorer
from evalkit.scorers.base import Failed
from evalkit.scorers.judgement_cache import JudgementCache
from evalkit.serving.distributed import shard_and_gather
from evalkit.task import Answer, Task

BATCH = 4096  # inputs judged between two writes of the cache


@dataclass
class Judged:
    answers: list[list[Answer]]                      # per document, each answer with its judgements
    failed: dict[int, str] = field(default_factory=dict)  # document index -> why it has no judgement
    record: dict[str, Any] = field(default_factory=dict)  # results.json "scorers" entry of the task


def judge_answers(task: Task, docs: list[dict], answers: list[list[Answer]], cache: JudgementCache | None,
                  progress: bool = True) -> Judged:
    judged = Judged(answers)
    for name, settings in task.scorers().items():
        try:
            scorer = load_scorer(name, settings, progress=progress, desc=f"{task.name}: {name}")
        except EvalkitError as error:  # a judge whose server cannot be reached, a judge model that cannot load
            raise error if isinstance(error, ScorerError) else ScorerError(f"{name}: {error}") from error
        inputs = [[task.scorer_inputs(name, doc, answer) for answer in doc_answers]
                  for doc, doc_answers in zip(docs, judged.answers)]
        counts = {"judged": 0, "from_cache": 0}
        verdicts = iter(_judge(scorer, [item for doc in inputs for items in doc for item in items], cache, counts))
        new_answers = []
        for doc_id, (doc_inputs, doc_answers) in enumerate(zip(inputs, judged.answers)):
            updated = []
            for items, answer in zip(doc_inputs, doc_answers):
                found = tuple(next(verdicts) for _ in items)
                failures = [j.reason for j in found if isinstance(j, Failed)]
                if failures:
                    judged.failed.setdefault(doc_id, f"{name}: {failures[0]}")
                updated.append(dataclasses.replace(answer, judgements={**answer.judgements, name: found}))
            new_answers.append(updated)
        judged.answers = new_answers
        made = [j for doc in new_answers for a in doc for j in a.judgements[name] if not isinstance(j, Failed)]
        judged.record[name] = {"version": scorer.version, **counts,
                               "failed": sum(isinstance(j, Failed) for doc in new_answers for a in doc
                                             for j in a.judgements[name]), **scorer.summary(made)}
    if judged.record:
        judged.record["excluded_documents"] = len(judged.failed)
    return judged


def _judge(scorer, items: list, cache: JudgementCache | None, counts: dict[str, int]) -> list:
    """Judgements of items in order: from the cache where stored, else judged (and stored unless Failed)."""
    keys = [scorer.input_key(item) for item in items]
    unique = dict(zip(keys, items))
    stored = cache.get(scorer, list(unique)) if cache is not None else {}
    todo = [key for key in unique if key not in stored]
    # A scorer that pays per judgement (a rate-limited service) sets a smaller `chunk_size`.
    size = getattr(scorer, "chunk_size", None) or BATCH
    made = {}
    for start in range(0, len(todo), size):  # each batch stored before the next: a killed run keeps it
        batch = todo[start:start + size]
        try:
            new = shard_and_gather(batch, lambda mine: scorer.judge([unique[key] for key in mine]), cost=lambda _: 1.0)
        except EvalkitError as error:  # a judge's backend that gave up (its server unreachable after retries)
            raise error if isinstance(error, ScorerError) else ScorerError(f"{scorer.name}: {error}") from error
        if cache is not None:
            cache.put(scorer, [(key, j) for key, j in zip(batch, new) if not isinstance(j, Failed)])
        made.update(zip(batch, new))
    counts["judged"] += len(todo)
    counts["from_cache"] += len(unique) - len(todo)
    return [stored[key] if key in stored else made[key] for key in keys]
