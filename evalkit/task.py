"""The task interface: what every benchmark plugin in tasks/ provides to the runner.

A task knows its data, prompt template and protocol; it turns documents into requests and each
request, answered (and judged, where the task declares scorers), into per-document scores. It never
imports the model, the engine or a backend: what it may know of the model comes in a RunContext.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from evalkit.errors import UsageError
from evalkit.requests import Request, Result


@dataclass(frozen=True)
class DataSource:
    """Where documents come from: the Hugging Face Hub (default), the authors' files, or shipped examples."""
    data_dir: Path | None = None   # --data-dir: the authors' original files, laid out as ../shared/data
    examples: bool = False         # the handful of example documents shipped for the offline demo


@dataclass(frozen=True)
class RunContext:
    """What a task may know about the model it is evaluated on: the context window (tokens, None when
    the backend cannot say) and a token counter for BOS + text (used only when the window is known)."""
    max_length: int | None = None
    count_tokens: Callable[[str], int] | None = None


@dataclass(frozen=True)
class Answer:
    """One request of a document with the backend's result and, per scorer the task declares, one
    judgement per scorer input (evalkit.scorers), in the order `Task.scorer_inputs` gave them."""
    request: Request
    result: Result
    judgements: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass
class SampleResult:
    """One document's outcome: written as one line of OUT/samples/<task>.jsonl."""
    doc_id: int
    prompt: str
    target: Any
    prediction: Any
    metrics: dict[str, float]                           # per-document values, averaged by aggregate()
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. choices, loglikelihoods
    groups: tuple[str, ...] = ()  # groups the document belongs to: a task reporting <metric>_<group> lists
                                  # them here, and results.json counts each group's documents (n_<group>)
    doc_hash: str | None = None  # the document's content (document_hash), set by the runner: `compare` pairs on it


def document_hash(doc: dict) -> str:
    """A document's identity whatever its position: doc_id is its index among the documents a run
    evaluated, which --limit per subject (MMLU) shifts; two runs share a document when this agrees."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Task:
    """Base class of benchmark plugins. Subclasses set `name` and `protocol` and implement the methods."""
    name: str
    protocol: "Any"  # a dataclass describing split, shots, template, normalizer, decoding, metrics, paper cell

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        """The evaluation documents, in their canonical order (first `limit` of them)."""
        raise NotImplementedError

    def check_source(self, source: DataSource) -> None:
        """Refuse, before any model is loaded, a source that cannot serve this task's protocol (e.g. a
        few-shot run without the train file); raise DataError. Default: nothing to check."""

    def doc_key(self, doc: dict, doc_id: int) -> str:
        """The id that names the document in generations files (default: its index)."""
        return str(doc_id)

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[Request]:
        """Requests for one document (few-shot examples drawn with `seed`, never the document itself)."""
        raise NotImplementedError

    def scorers(self) -> dict[str, dict[str, Any]]:
        """Scorers that judge this task's outputs (evalkit.scorers): name -> settings. Default: none."""
        return {}

    def scorer_inputs(self, scorer: str, doc: dict, answer: Answer) -> list[Any]:
        """What `scorer` should judge for one answered request (e.g. one program per completion)."""
        raise NotImplementedError

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        """Turn the document's requests with their results (and judgements), in order, into a SampleResult."""
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

    def shot_starts(self, prompt: str) -> list[int] | None:
        """Where each few-shot example begins in one of this task's prompts (character offsets), so that
        a prompt the window cuts from the left counts only the shots that reached the model whole
        (evalkit/shots.py). None: the task fits its shots to the window itself, or takes none."""
        return None

    def configure(self, **settings: Any) -> None:
        """Change protocol settings (e.g. num_fewshot=5, n=16): the registry's parameters and the
        command line's overrides both come through here."""
        if settings:
            raise UsageError(f"{self.name}: takes no settings, got {', '.join(sorted(settings))}")

    def settings(self) -> set[str]:
        """Names `configure` accepts."""
        return set()


class TaskGroup:
    """Tasks reported together (lm-eval's group files). Each member task runs as a task of its own (its own
    documents, samples file and results entry); the group adds an entry computed from its members' entries."""
    name: str
    members: list  # Task | TaskGroup, in the group's order

    def results(self, entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """The group's results entry, from the results entries of the tasks it holds (by task name)."""
        raise NotImplementedError

    def protocol_dict(self, entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """The group's protocol entry (its members, how it aggregates, its headline metric)."""
        raise NotImplementedError


def split_groups(items: list) -> tuple[list[Task], list[TaskGroup]]:
    """The tasks to run (each group's tasks in its place, without repeats) and every group to report,
    outer groups before the groups they hold."""
    tasks: dict[str, Task] = {}
    groups: dict[str, TaskGroup] = {}

    def walk(item) -> None:
        if isinstance(item, TaskGroup):
            groups.setdefault(item.name, item)
            for member in item.members:
                walk(member)
        else:
            tasks.setdefault(item.name, item)
    for item in items:
        walk(item)
    return list(tasks.values()), list(groups.values())


def group_tasks(group: TaskGroup) -> list[Task]:
    """Every task a group holds, through its subgroups, in order."""
    return [task for member in group.members
            for task in (group_tasks(member) if isinstance(member, TaskGroup) else [member])]
