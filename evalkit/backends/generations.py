"""The generations backend: answers generation requests from generations files instead of a model.

`--backend generations --load-generations PATH` (or `--load-generations PATH` alone) scores outputs
written earlier by `--save-generations` or by another tool, for any generation task: code is
executed, answers are compared or judged, and no model is loaded. PATH is one task's file, or a folder
of <task>.jsonl files for a run of several tasks (evalkit/generations_file.py). The runner announces
every task's documents (`expect`) before any is served, so a file of another task, an id that is no
document of the task, or a document without completions is refused before any work. A document's
completions are dealt over its generation requests in order, n each, and cut at each request's stop
strings, as a model's would be; a file with one completion per problem (human-eval's samples format,
most tools') answers the first request only. Scoring requests have no answer here.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalkit.backends.base import BackendOptions
from evalkit.errors import DataError, UsageError
from evalkit.generations_file import generations_of
from evalkit.requests import GenerateRequest, GenerateResult, Request, cut_at_stop


@dataclass
class GenerationsStats:
    requests_served: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class GenerationsBackend:
    name = "generations"
    max_length = None  # no model, no window: tasks keep their full prompts

    def __init__(self, path: Path):
        self.path = Path(path)
        files = sorted(self.path.glob("*.jsonl")) if self.path.is_dir() else [self.path]
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        self.fingerprint = "generations:" + digest.hexdigest()[:16]
        self.answers: dict[GenerateRequest, tuple[str, ...]] = {}
        self.served: dict[Path, str] = {}  # file -> the task it answered (a file answers one task)
        self.stats = GenerationsStats()

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError("the generations backend has no tokenizer")

    def describe(self) -> dict[str, Any]:
        return {"name": f"generations from {self.path}", "label": self.path.stem, "format": "generations",
                "backend": self.name, "fingerprint": self.fingerprint}

    def expect(self, task: str, documents: list[tuple[str, list[Request]]], keys: list[str]) -> None:
        """Deal each document's completions over its generation requests; a file of another task, an id
        that is not among `keys` (every document of the task), or any mismatch is one clear error."""
        for key, requests in documents:
            scoring = [r for r in requests if not isinstance(r, GenerateRequest)]
            if scoring:
                raise UsageError(f"{task} asks for {type(scoring[0]).__name__}s, and the generations backend "
                                 "answers generation requests only; score it with a model backend")
        generations = generations_of(self.path, task)
        file, completions = generations.path, generations.completions
        if self.served.setdefault(file, task) != task:
            raise DataError(f"{file}: no line names its task (field 'task') and the run asks for "
                            f"{self.served[file]} and {task}: a run of several tasks takes a folder of "
                            "<task>.jsonl files, as --save-generations writes OUT/generations/")
        known = set(keys)
        unknown = [key for key in completions if key not in known]
        if unknown:
            raise DataError(f"{file}: task_id {unknown[0]!r} is no document of {task} ({len(unknown)} unknown "
                            f"task_id(s); {task}'s are e.g. {keys[0]!r})")
        missing = [key for key, _ in documents if key not in completions]
        if missing:
            raise DataError(f"{file}: no completions for task_id {missing[0]!r} ({task})")
        for key, requests in documents:
            texts, needed = completions[key], sum(r.n for r in requests)
            if len(texts) == 1 and requests and requests[0].n == 1:
                # one completion per problem (what most tools write): the first request's only sample
                # (a code task's pass@1 set); later requests get none, so no larger pass@k is computed
                texts = texts + [None] * (needed - 1)
            if len(texts) != needed:
                hint = f"--n-samples {len(texts) // len(requests)}" \
                    if requests and len(texts) % len(requests) == 0 else "--n-samples"
                raise DataError(f"{file}: task_id {key!r} has {len(texts)} completions; {task} asks for "
                                f"{needed} ({' + '.join(str(r.n) for r in requests)}: n per request; see {hint})")
            start = 0
            for request in requests:
                # cut at the request's stop strings, as the model's continuations are
                dealt = tuple(cut_at_stop(text, request.until) for text in texts[start:start + request.n]
                              if text is not None)
                if self.answers.setdefault(request, dealt) != dealt:
                    raise DataError(f"{file}: task_id {key!r} ({task}) repeats another document's request "
                                    "with different completions")
                start += request.n

    def generate(self, requests: list[GenerateRequest],
                 first_sample: dict[GenerateRequest, int] | None = None) -> list[GenerateResult]:
        first_sample = first_sample or {}
        missing = [r for r in requests if r not in self.answers]
        if missing:  # the runner announces every document before serving it
            raise UsageError(f"generations backend: a request of no announced document ({missing[0].context[:60]!r})")
        self.stats.requests_served += len(requests)
        return [GenerateResult(self.answers[r][first_sample.get(r, 0):]) for r in requests]

    def loglikelihood(self, requests: list) -> list:
        raise UsageError("the generations backend answers generation requests only")

    def loglikelihood_rolling(self, requests: list) -> list:
        raise UsageError("the generations backend answers generation requests only")


def load(options: BackendOptions) -> GenerationsBackend:
    if options.generations is None:
        raise UsageError("--backend generations needs --load-generations FILE")
    if not Path(options.generations).exists():
        raise UsageError(f"--load-generations {options.generations}: no such file or folder")
    return GenerationsBackend(options.generations)
