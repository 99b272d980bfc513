"""Prompts as lm-eval writes them (plain text): the description, the shots, then the document.

Samplers are lm-eval's: `default` draws from one random.Random(seed) that walks the documents in order
(document i gets the i-th draw; one extra is drawn and the document itself dropped where the shots come
from the evaluated split), `first_n` takes the pool's first n. A turn is "question, target delimiter,
answer, few-shot delimiter", with lm-eval's `gen_prefix` joining rules; for a task whose doc_to_text
gives an index into doc_to_choice (several contexts, one continuation: WinoGrande) each choice is a
context of its own.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from evalkit.errors import DataError
from evalkit.task_kinds.yaml_format import fields
from evalkit.task_kinds.yaml_format.config import YamlConfig


def maybe_delimit(prefix: str | None, suffix: str | None, delimiter: str = " ") -> str:
    if not prefix:
        return suffix or ""
    if not suffix:
        return prefix
    return prefix + suffix if prefix[-1].isspace() or suffix[0].isspace() else prefix + delimiter + suffix


def needs_delimiter(prefix: str, suffix: str) -> bool:
    return prefix != "" and not (prefix[-1].isspace() or suffix[0].isspace())


def turn(q, c, a, gen_prefix: str | None, target_delimiter: str, fewshot_delimiter: str, where: str) -> str:
    """lm-eval's build_qa_turn, as text."""
    if not isinstance(q, str):
        raise DataError(f"{where}: key doc_to_text: gave {q!r}, not a text")
    has_answer = a is not None and a != ""
    joined = has_answer and not gen_prefix or bool(gen_prefix) and needs_delimiter(q, gen_prefix)
    text = q + (target_delimiter if joined else "")
    if has_answer:
        answer = c[a] if c and isinstance(a, int) else a[0] if isinstance(a, list) else a
        if not isinstance(answer, str):
            raise DataError(f"{where}: key doc_to_target: gave {answer!r}, not a text or a choice index")
        return text + maybe_delimit(gen_prefix, answer) + fewshot_delimiter
    return text + (gen_prefix or "")


@dataclass
class Sampler:
    """The shots of each evaluated document, drawn as lm-eval's samplers draw them."""
    kind: str
    pool: list[dict]
    seed: int
    exclude_document: bool  # lm-eval drops the document itself only where fewshot split == test split

    def __post_init__(self):
        self._rng, self._drawn = random.Random(self.seed), []

    def shots(self, n: int, doc_id: int, docs: list[dict]) -> list[dict]:
        if n == 0:
            return []
        if self.kind == "first_n":
            pool = [d for d in self.pool if d != docs[doc_id]] if self.exclude_document else self.pool
            if n > len(pool):
                raise DataError(f"{n} shots asked, but the few-shot documents are {len(pool)}")
            return pool[:n]
        while len(self._drawn) <= doc_id:  # the shared generator walks the documents in order
            self._drawn.append(self._draw(n, docs[len(self._drawn)]))
        return self._drawn[doc_id]

    def _draw(self, n: int, doc: dict) -> list[dict]:
        if len(self.pool) < n + self.exclude_document:
            raise DataError(f"{n} shots asked, but the few-shot documents are {len(self.pool)}")
        if not self.exclude_document:
            return self._rng.sample(self.pool, n)
        shots = [d for d in self._rng.sample(self.pool, n + 1) if d != doc][:n]
        if len(shots) < n:  # copies of the document in the pool: lm-eval redraws without any of them
            shots = self._rng.sample([d for d in self.pool if d != doc], n)
        return shots


class Prompts:
    """Contexts of one task's documents."""

    def __init__(self, config: YamlConfig, sampler: Sampler | None):
        self.config, self.sampler, self.where = config, sampler, str(config.path)
        self.has_choices = config.doc_to_choice is not None
        self.shot_starts: dict[str, list[int]] = {}  # context -> where each of its shots begins

    def multiple_input(self, doc: dict) -> bool:
        """doc_to_text gives an index into the choices: each choice is a context (lm-eval asks its first doc)."""
        return self.has_choices and isinstance(self.text(doc), int)

    def text(self, doc: dict, spec=None):
        return fields.text(self.config.path, self.config.doc_to_text if spec is None else spec, doc, self.has_choices)

    def target(self, doc: dict, spec=None):
        return fields.target(self.config.path, self.config.doc_to_target if spec is None else spec, doc,
                             self.has_choices)

    def choices(self, doc: dict, spec=None) -> list:
        return fields.choices(self.config.path, self.config.doc_to_choice if spec is None else spec, doc)

    def prefix(self, doc_id: int, docs: list[dict], shots: int, multiple_input: bool) -> tuple[str, int]:
        """The description and the solved shots before document `doc_id`, and how many shots it holds."""
        config, fewshot = self.config, self.config.fewshot
        doc = docs[doc_id]
        text = fields.resolve(config.path, "description", config.description, doc) or ""
        drawn = self.sampler.shots(shots, doc_id, docs) if shots and self.sampler else []
        self._starts = []
        for shot in drawn:
            self._starts.append(len(text))
            q, a = self.text(shot, fewshot.doc_to_text), self.target(shot, fewshot.doc_to_target)
            c = self.choices(shot, fewshot.doc_to_choice) if fewshot.doc_to_choice is not None else None
            if multiple_input:
                q, c = c[q], None
            gen_prefix = fields.resolve(config.path, "gen_prefix", fewshot.gen_prefix, shot)
            text += turn(q, c, a, gen_prefix, fewshot.target_delimiter, fewshot.fewshot_delimiter, self.where)
        return text, len(drawn)

    def contexts(self, doc_id: int, docs: list[dict], shots: int) -> tuple[list[str], int]:
        """The document's context (several for multiple-input tasks) and the shots it holds."""
        doc, multiple = docs[doc_id], self.multiple_input(docs[0])
        prefix, used = self.prefix(doc_id, docs, shots, multiple)
        gen_prefix = fields.resolve(self.config.path, "gen_prefix", self.config.gen_prefix, doc)
        if multiple:
            found = [prefix + turn(c, None, None, gen_prefix, "", "", self.where) for c in self.choices(doc)]
        else:
            found = [prefix + turn(self.text(doc), None, None, gen_prefix, self.config.target_delimiter, "",
                                   self.where)]
        self.shot_starts.update(dict.fromkeys(found, self._starts))  # exact, for evalkit/shots.py
        return found, used
