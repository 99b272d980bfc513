"""Prompt templates: one Jinja file per prompt under prompts/, rendered strictly; and fixed few-shot
exemplars published with a benchmark's protocol (prompts/<name>_exemplars.json).

StrictUndefined turns a missing document field into an error instead of an empty string, and the
sha256 of the template text is recorded with every result (`prompt_hash`), as is the sha256 of an
exemplar file (`exemplars_hash`).
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

import jinja2

from evalkit.errors import DataError
from evalkit.layout import data_dir

PROMPTS_DIR = data_dir("prompts")

# keep_trailing_newline=False: the file's final newline is not part of the prompt.
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, **fields) -> str:
        try:
            return _template(self.text).render(**fields)
        except jinja2.UndefinedError as err:
            raise DataError(f"prompt {self.name}: {err.message} in the document") from err


def syntax_error(text: str) -> str | None:
    """Why `text` is not a valid Jinja template ("message, line N"), or None when it is."""
    try:
        _template(text)
    except jinja2.TemplateSyntaxError as err:
        return f"{err.message}, line {err.lineno}"
    return None


@functools.lru_cache(maxsize=None)
def _template(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    """The template prompts/<name>."""
    return Prompt(name, (PROMPTS_DIR / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Exemplars:
    """Fixed shots from the literature: {"source": citation, "exemplars": [{field: text}]}."""
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def shots(self) -> list[dict]:
        return json.loads(self.text)["exemplars"]


@functools.lru_cache(maxsize=None)
def load_exemplars(name: str) -> Exemplars:
    """The exemplar file prompts/<name>."""
    return Exemplars(name, (PROMPTS_DIR / name).read_text(encoding="utf-8"))
