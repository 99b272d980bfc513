"""Exact match for closed-book QA (NaturalQuestions, TriviaQA): the answer, normalized, equals one of
the gold answers, normalized.

The normalization is SQuAD's (Rajpurkar et al. 2016, `normalize_answer` of its evaluation script),
which the TriviaQA and NQ-open evaluations also use: lowercase, punctuation removed, the articles
"a", "an", "the" removed, whitespace collapsed. TriviaQA's own script also turns "_" into a space
(it counts as punctuation here, so the words stay apart either way).
"""
from __future__ import annotations

import re
import string
import unicodedata

_PUNCTUATION = set(string.punctuation) | {"‘", "’", "´", "`", "“", "”"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    text = unicodedata.normalize("NFD", text).lower()
    text = "".join(" " if ch == "_" else ch for ch in text if ch not in _PUNCTUATION or ch == "_")
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: list[str]) -> bool:
    """True if the normalized prediction equals any normalized gold answer (aliases included); an answer
    that normalizes to nothing is never correct (a gold such as "A" would otherwise match silence)."""
    predicted = normalize_answer(prediction)
    return bool(predicted) and any(predicted == normalize_answer(gold) for gold in golds)
