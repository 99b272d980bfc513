"""A task's protocol, declared in one place, and the base class that reads it.

The protocol is what a reader needs to reproduce a number: where the documents come from, which
split, how many shots from where, which template, how the answer is chosen, which metric is the
paper's, and which cell of which paper table it fills. `protocol_dict()` writes it into results.json
together with a hash of the template text, so a changed prompt is visible in the results.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from evalkit import data
from evalkit.errors import UsageError
from evalkit.prompts import Prompt, load_prompt
from evalkit.task import DataSource, Task

# Multiple-choice rules (evalkit/metrics/accuracy.py) and the metric each one reports.
RULE_METRICS = {"none": "acc", "char": "acc_char", "answer": "acc_answer"}


@dataclass(frozen=True)
class HubSource:
    """A split on the Hugging Face Hub: `datasets.load_dataset(path, name, split=split)`."""
    path: str
    name: str | None
    split: str


@dataclass(frozen=True)
class TaskProtocol:
    hub: HubSource                       # default source of the evaluation split
    local: tuple[str, ...]               # the authors' file(s) for that split, relative to --data-dir
    template: str                        # file name under prompts/
    answer: str                          # how the choices and the gold answer are formed
    normalizer: str                      # the paper's rule: "none", "char" or "answer" (RULE_METRICS);
                                         # for other output types, the name of the headline metric
    paper_table: str
    paper_column: str
    rules: tuple[str, ...] = ("none", "char")  # every rule computed and reported
    output_type: str = "multiple_choice"
    num_fewshot: int = 0
    fewshot_hub: HubSource | None = None  # where the shots come from (None: zero-shot)
    fewshot_local: tuple[str, ...] = ()
    fewshot_sampler: str = "seeded"       # "seeded": random with (seed, doc_id); "first_k": the split's first k
    target_delimiter: str = " "
    decoding: str = "loglikelihood of each choice"
    notes: str = ""

    @property
    def headline_metric(self) -> str:
        return RULE_METRICS.get(self.normalizer, self.normalizer)

    @property
    def split(self) -> str:
        return self.hub.split

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"split": self.split, "headline_metric": self.headline_metric,
                                           "metrics": [RULE_METRICS.get(r, r) for r in self.rules]}


class ProtocolTask(Task):
    """A Task whose documents, template and metadata follow its `protocol`.

    Subclasses provide `read_local(paths)` (the authors' files -> docs) and `from_hub(row)` (one Hub
    row -> the same doc). The few-shot pool is read from the same source as the documents, so
    `docs()` remembers its source.
    """
    protocol: TaskProtocol
    _source: DataSource | None = None
    _pool: list[dict] | None = None
    _read: tuple[DataSource, TaskProtocol, list[dict]] | None = None  # the documents as last read, and from what

    @property
    def output_type(self) -> str:
        return self.protocol.output_type

    @property
    def prompt(self) -> Prompt:
        return load_prompt(self.protocol.template)

    def protocol_dict(self) -> dict:
        return {"task": self.name, "prompt_hash": self.prompt.sha256, **self.protocol.to_dict()}

    def settings(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self.protocol)}

    def configure(self, **settings) -> None:
        """A copy of the protocol with `settings` changed; unknown names and impossible values are UsageErrors."""
        if unknown := set(settings) - self.settings():
            raise UsageError(f"{self.name}: no protocol setting {', '.join(sorted(unknown))}")
        changed = dataclasses.replace(self.protocol, **settings)
        self.check(changed)
        self.protocol = changed

    def check(self, protocol: TaskProtocol) -> None:
        """Refuse impossible protocol settings with a UsageError (task kinds add their own rules)."""
        if protocol.num_fewshot < 0:
            raise UsageError(f"{self.name}: num_fewshot must be 0 or more, got {protocol.num_fewshot}")
        if protocol.num_fewshot > 0 and protocol.fewshot_hub is None:
            raise UsageError(f"{self.name}: {protocol.num_fewshot} shots asked, but the task declares no few-shot split")

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        """Read (and checked) once per source and protocol: a run asks for its slice and for the count."""
        if self._read is None or self._read[:2] != (source, self.protocol):
            self._source, self._pool = source, None
            self._read = (source, self.protocol, self._load(source, self.protocol.hub, self.protocol.local))
        docs = self._read[2]
        return docs[:limit] if limit is not None else docs

    def fewshot_pool(self) -> list[dict]:
        """Documents of the declared few-shot split, from the source given to `docs()`."""
        if self._pool is None:
            if self.protocol.fewshot_hub is None:
                raise ValueError(f"{self.name}: the protocol declares no few-shot split")
            self._pool = self._load(self._source or DataSource(), self.protocol.fewshot_hub,
                                    self.protocol.fewshot_local)
        return self._pool

    def _load(self, source: DataSource, hub: HubSource, local: tuple[str, ...]) -> list[dict]:
        if source.examples or source.data_dir is not None:
            root = data.EXAMPLES_DIR if source.examples else Path(source.data_dir)
            return self.read_local([root / rel for rel in local])
        return [self.from_hub(row) for row in data.load_hub(hub.path, hub.name, hub.split)]

    def read_local(self, paths: list[Path]) -> list[dict]:
        raise NotImplementedError

    def from_hub(self, row: dict) -> dict:
        raise NotImplementedError

