"""lm-eval's doc_to_* on a document: a field name, a Jinja template, a list, or a `!function`.

The rules are lm-eval 0.4's (ConfigurableTask.doc_to_text/target/choice): a string naming a field of
the document gives that field; otherwise it is rendered with lm-eval's Jinja environment (strict
undefined, trailing newline kept, a `regex_replace` filter). A rendered text or target of digits is an
index when the task has choices; a target rendered as `[...]` is a list; choices render to a list
literal. A template naming a field the document lacks is a DataError naming the file and the key.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import jinja2

from evalkit.errors import DataError

_ENV = jinja2.Environment(loader=jinja2.BaseLoader(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_ENV.filters["regex_replace"] = lambda string, pattern, repl, count=0: re.sub(pattern, repl, string, count=count)


@functools.lru_cache(maxsize=None)
def _template(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


def render(path: Path, key: str, text: str, doc: dict) -> str:
    try:
        return _template(text).render(**doc)
    except jinja2.UndefinedError as err:
        raise DataError(f"{path}: key {key}: {err.message} in the document") from err
    except Exception as err:  # a template's own expression failing on this document (e.g. .index of a missing value)
        raise DataError(f"{path}: key {key}: {type(err).__name__}: {err} in the document") from err


def resolve(path: Path, key: str, spec: Any, doc: dict) -> Any:
    """A description or gen_prefix: the field of that name, else the rendered template."""
    if not spec:
        return None
    return doc[spec] if spec in doc else render(path, key, spec, doc)


def text(path: Path, spec: Any, doc: dict, has_choices: bool) -> Any:
    if isinstance(spec, int) or spec is None:
        return spec
    if callable(spec):
        return spec(doc)
    if spec in doc:
        return doc[spec]
    rendered = render(path, "doc_to_text", spec, doc)
    return ast.literal_eval(rendered) if rendered.isdigit() and has_choices else rendered


def target(path: Path, spec: Any, doc: dict, has_choices: bool) -> Any:
    if isinstance(spec, (int, list)) or spec is None:
        return spec
    if callable(spec):
        return spec(doc)
    if spec in doc:
        return doc[spec]
    rendered = render(path, "doc_to_target", spec, doc)
    if rendered.isdigit() and has_choices:
        return ast.literal_eval(rendered)
    if len(rendered) >= 2 and rendered[0] == "[" and rendered[-1] == "]":
        try:
            return ast.literal_eval(rendered)
        except (SyntaxError, ValueError):
            return rendered
    return rendered


def choices(path: Path, spec: Any, doc: dict) -> list:
    if isinstance(spec, list):
        return spec
    if isinstance(spec, dict):
        return list(spec.values())
    if callable(spec):
        return spec(doc)
    if spec in doc:
        return doc[spec]
    rendered = render(path, "doc_to_choice", spec, doc)
    try:
        return ast.literal_eval(rendered)
    except (SyntaxError, ValueError) as err:
        raise DataError(f"{path}: key doc_to_choice: rendered {rendered[:80]!r}, not a list") from err
