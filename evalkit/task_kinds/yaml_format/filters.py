"""lm-eval's filter_list: named pipelines that turn a document's responses into the answer scored.

Each pipeline ("strict-match", "flexible-extract", ...) runs its steps in order on the list of the
document's `repeats` responses: `regex` (with `group_select` and `fallback`), `take_first`,
`take_first_k`, `majority_vote`, `lowercase`, `uppercase`, `remove_whitespace`, `map`,
`multi_choice_regex`, `regex_pos`, `format_span`, `custom` (a `!function` taking (responses, documents)) and a
filter class of the task's own (`function: !function utils.MyFilter`), as lm-eval defines them. Without filter_list a task has lm-eval's one pipeline "none": take_first.

Any other name is a filter class that the task's own Python module registered in lm-eval's filter
registry (`@register_filter("ACP_grammar_filter")`): the module is imported when the file's `!function`s
are (before the filter list is read), and its class runs through lm-eval's Filter contract,
`apply(responses per document, documents)`. lm-eval's own filters never come from its registry: evalkit
has its own, above.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import unicodedata
from collections import Counter
from functools import cache
from typing import Any, Callable

from evalkit.errors import UsageError

NONE = [{"name": "none", "filter": [{"function": "take_first"}]}]


def _regex(regex_pattern: str = r"#### (\-?[0-9\.\,]+)", group_select: int = 0, fallback: str = "[invalid]"):
    compiled = re.compile(regex_pattern)

    def one(resp: Any) -> str:
        found = compiled.findall(resp if isinstance(resp, str) else "")
        if not found:
            return fallback
        match = found[group_select]
        if isinstance(match, tuple):
            match = next((m for m in match if m), fallback)
        return match.strip()
    return lambda resps, doc: [one(r) for r in resps]


@cache
def _punctuation() -> dict:
    return dict.fromkeys(i for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P"))


def _multi_choice_regex(regex_pattern: str = r"#### (\-?[0-9\.\,]+)", group_select: int = 0,
                        fallback: str = "[invalid]", ignore_case: bool = False, ignore_punctuation: bool = False,
                        regexes_to_ignore: list[str] | None = None):
    """The regex, else a choice's text in the response (-> "(A)"...), else ": A" (lm-eval's fallbacks)."""
    compiled = re.compile(regex_pattern)

    def find(regex, resp, convert=None):
        found = regex.findall(resp if isinstance(resp, str) else "")
        if not found:
            return found
        match = found[group_select]
        if isinstance(match, tuple):
            match = next((m for m in match if m), "")
        match = match.strip()
        return (convert or {}).get(match, match) if match else match

    def ignore(text: str) -> str:
        for pattern in regexes_to_ignore or ():
            text = re.sub(pattern, "", text)
        text = text.lower() if ignore_case else text
        return text.translate(_punctuation()) if ignore_punctuation else text

    def apply(resps, doc):
        letters = [chr(ord("A") + i) for i in range(len(doc["choices"]))]
        to_letter = {ignore(c.strip()): f"({letter})" for c, letter in zip(doc["choices"], letters)}
        by_text = re.compile("|".join(sorted((re.escape(ignore(c.strip())) for c in doc["choices"]), key=len,
                                             reverse=True)))
        by_letter = re.compile(rf":[\s]*({'|'.join(letters)})")
        out = []
        for resp in resps:
            match = find(compiled, resp) or find(by_text, ignore(resp), to_letter) or \
                find(by_letter, resp, {letter: f"({letter})" for letter in letters})
            out.append(match or fallback)
        return out
    return apply


def _regex_pos(regex_pattern: str = r"\['(.*?)'\]", group_select: int = 0, fallback: Any = None):
    """The POS tags of a response's ('word', 'TAG') tuples (lm-eval's regex_pos ignores its pattern)."""
    def tags(resp: Any) -> Any:
        pairs = re.findall(r"\('([^']*)', '([^']*)'\)", resp) if isinstance(resp, str) else resp
        return [pos for _, pos in pairs] or (fallback if fallback is not None else ["invalid"])
    return lambda resps, doc: [tags(r) for r in resps]


# lm-eval's spellings of MasakhaNER's entity labels, in its order (the longer "person" before "per")
NER_LABELS = {"person": "PER", "location": "LOC", "organization": "ORG", "counties": "LOC", "places": "LOC",
              "people": "PER", "persons": "PER", "company": "ORG", "country": "LOC", "continent": "LOC",
              "time": "DATE", "date": "DATE", "per": "PER", "loc": "LOC", "org": "ORG"}


def _format_span():
    """lm-eval's format_span: the entities of a response written "person: a, b $$ loc: c" (lowercased,
    labels spelled out or not), as "per: a $ per: b $ loc: c", entities "none" left out."""
    def one(resp: str) -> str:
        text = resp.lower()
        for key, label in NER_LABELS.items():  # only a label (the word before a ":"), never entity text
            text = re.sub(rf"\b{re.escape(key)}\s*:", f"{label}:", text)
        text = "$".join(text.split("$$")).rstrip("$").replace("\n", "$").strip()
        return " $ ".join(f"{label.lower()}: {entity}"
                          for label, values in re.findall(r"\b(PER|LOC|ORG|DATE):\s*([^$]+)", text)
                          for entity in (value.strip() for value in values.split(",")) if entity.lower() != "none")
    return lambda resps, doc: [one(r) for r in resps]


def _filter_class(cls: type, **kwargs):
    """A filter class of the task's own (`function: !function utils.MyFilter`), applied to one document."""
    instance = cls(**kwargs)
    return lambda resps, doc: list(instance.apply([resps], [doc]))[0]


def _take_first_k(k: int):
    return lambda resps, doc: resps[:k]


def _map(mapping_dict: dict | None = None, default_value: Any = None):
    return lambda resps, doc: [(mapping_dict or {}).get(r, default_value) for r in resps]


def _custom(filter_fn: Callable):
    return lambda resps, doc: list(filter_fn([resps], [doc]))[0]


STEPS: dict[str, Callable[..., Callable[[Any, dict], Any]]] = {
    "regex": _regex,
    "regex_pos": _regex_pos,
    "multi_choice_regex": _multi_choice_regex,
    "take_first": lambda: lambda resps, doc: resps[0],
    "take_first_k": _take_first_k,
    "majority_vote": lambda: lambda resps, doc: [Counter(resps).most_common(1)[0][0]],
    "lowercase": lambda: lambda resps, doc: [r.lower() for r in resps],
    "uppercase": lambda: lambda resps, doc: [r.upper() for r in resps],
    "remove_whitespace": lambda: lambda resps, doc: [r.strip() for r in resps],
    "map": _map,
    "format_span": _format_span,
    "custom": _custom,
}


def check_filter_list(filter_list: Any, where: str) -> None:
    for pipeline in filter_list or ():
        if not isinstance(pipeline, dict) or "name" not in pipeline or "filter" not in pipeline:
            raise UsageError(f"{where}: key filter_list: each entry needs 'name' and 'filter'")
        for step in pipeline["filter"]:
            function = step.get("function")
            if not isinstance(function, type) and function not in STEPS and registered(function) is None:
                lm_eval = "" if importlib.util.find_spec("lm_eval") else \
                    "; that module imports lm_eval: pip install lm-eval"
                raise UsageError(f"{where}: key filter_list: unknown filter {function!r} (known: {', '.join(STEPS)}, "
                                 f"or a filter a task's module registers in lm-eval's filter registry{lm_eval})")
            try:
                _step(step)
            except Exception as err:  # a bad argument, pattern, or the task's own filter class failing
                raise UsageError(f"{where}: key filter_list: {step['function']}: {err}") from err


def pipelines(filter_list: list | None) -> dict[str, list[Callable[[Any, dict], Any]]]:
    """Pipeline name -> its steps, ready to apply (filter_list checked already)."""
    return {p["name"]: [_step(s) for s in p["filter"]] for p in filter_list or NONE}


def registered(name: Any) -> type | None:
    """The filter class a task's own module registered as `name` in lm-eval's filter registry (None: none,
    or lm-eval was never imported, so nothing could register one)."""
    registry = sys.modules.get("lm_eval.api.registry")
    if not isinstance(name, str) or registry is None:
        return None
    try:
        found = registry.filter_registry.get(name)
    except KeyError:
        return None
    return None if getattr(found, "__module__", "").startswith("lm_eval.filters") else found


def _step(step: dict) -> Callable[[Any, dict], Any]:
    kwargs = {k: v for k, v in step.items() if k != "function"}
    function = step["function"]
    if isinstance(function, type):
        return _filter_class(function, **kwargs)
    return STEPS[function](**kwargs) if function in STEPS else _filter_class(registered(function), **kwargs)


def apply(steps: list[Callable[[Any, dict], Any]], responses: list, doc: dict) -> Any:
    value: Any = list(responses)
    for step in steps:
        value = step(value, doc)
    return value
