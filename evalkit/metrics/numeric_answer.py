"""GSM8K answers: the gold number after "####", the model's number after "The answer is", compared as
numbers.

Wei et al. (2022) end every chain-of-thought exemplar with "The answer is X."; the model's answer is
the last number after the last "The answer is" on its line, with thousands separators, a dollar
sign and a trailing dot removed. Gold answers end the reference solution as "#### X" (14 test
answers are written with thousands separators, e.g. "2,125"). Both become one canonical decimal
string ("18", "-3", "2.5"), so that "18.00" and "18" vote together and compare equal.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

ANSWER_PHRASE = re.compile(r"the answer is", re.IGNORECASE)
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")


def canonical_number(text: str) -> str | None:
    """"1,234.50" -> "1234.5"; None if `text` is not a number (after removing "$", "," and a final ".")."""
    cleaned = text.strip().replace(",", "").replace("$", "").rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def gold_answer(solution: str) -> str | None:
    """The number after the reference solution's last "####" (None when absent or not a number)."""
    if "####" not in solution:
        return None
    return canonical_number(solution.rsplit("####", 1)[1])


def extract_answer(completion: str) -> str | None:
    """The last number after the last "The answer is" on its line, canonical; None when there is none."""
    found = list(ANSWER_PHRASE.finditer(completion))
    if not found:
        return None
    line = completion[found[-1].end():].split("\n", 1)[0]
    numbers = NUMBER.findall(line)
    return canonical_number(numbers[-1]) if numbers else None
