"""The generations backend: answers generation requests from a generations file instead of a model.

`--backend generations --load-generations FILE` (or `--load-generations FILE` alone) scores outputs
written earlier by `--save-generations` or by another tool, for any generation task: code is
executed, answers are compared or judged, and no model is loaded. The runner announces each task's
documents (`expect`): the file's completions for a document (by its `doc_key`) are dealt over the
document's generation requests in order, n each; a file with one completion per problem (human-eval's
samples format, most tools') answers the first request only. Scoring requests have no answer here.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalkit.backends.base import BackendOptions
from evalkit.errors import DataError, UsageError
from evalkit.generations_file import load_generations
from evalkit.requests import GenerateRequest, GenerateResult, Request


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
        self.completions = load_generations(self.path)
        self.fingerprint = "generations:" + hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        self.answers: dict[GenerateRequest, tuple[str, ...]] = {}
        self.stats = GenerationsStats()

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError("the generations backend has no tokenizer")

    def describe(self) -> dict[str, Any]:
        return {"name": f"generations from {self.path}", "label": self.path.stem, "format": "generations",
                "backend": self.name, "fingerprint": self.fingerprint}

    def expect(self, task: str, documents: list[tuple[str, list[Request]]]) -> None:
        """Deal each document's completions over its generation requests; any mismatch is one clear error."""
        for key, requests in documents:
            scoring = [r for r in requests if not isinstance(r, GenerateRequest)]
            if scoring:
                raise UsageError(f"{task} asks for {type(scoring[0]).__name__}s, and the generations backend "
                                 "answers generation requests only; score it with a model backend")
        missing = [key for key, _ in documents if key not in self.completions]
        if missing:
            raise DataError(f"{self.path}: no completions for task_id {missing[0]!r} ({task})")
        for key, requests in documents:
            completions, needed = self.completions[key], sum(r.n for r in requests)
            if len(completions) == 1 and requests and requests[0].n == 1:
                # one completion per problem (what most tools write): the first request's only sample
                # (a code task's pass@1 set); later requests get none, so no larger pass@k is computed
                completions = completions + [None] * (needed - 1)
            if len(completions) != needed:
                hint = f"--n-samples {len(completions) // len(requests)}" \
                    if requests and len(completions) % len(requests) == 0 else "--n-samples"
                raise DataError(f"{self.path}: task_id {key!r} has {len(completions)} completions; {task} asks for "
                                f"{needed} ({' + '.join(str(r.n) for r in requests)}: n per request; see {hint})")
            start = 0
            for request in requests:
                texts = tuple(text for text in completions[start:start + request.n] if text is not None)
                if self.answers.setdefault(request, texts) != texts:
                    raise DataError(f"{self.path}: task_id {key!r} ({task}) repeats another document's request "
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
    if not Path(options.generations).is_file():
        raise UsageError(f"--load-generations {options.generations}: no such file")
    return GenerationsBackend(options.generations)
