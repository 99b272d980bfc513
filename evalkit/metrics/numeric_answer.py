"""GSM8K answers: the gold number after "####", the model's number after "The answer is", compared as
numbers.

The rule follows the chain-of-thought format of Wei et al. (2022), which Minerva and the LLaMA paper
use for GSM8K: every exemplar ends "The answer is X." with X a number, so the answer is read where the
format puts it:
- the FIRST "The answer is" of the completion (any case) is the answer; a later phrase is text the
  model wrote after answering, which the exemplars never do (lm-eval's `gsm8k_cot` strict-match also
  takes the first);
- the answer is the number right after the phrase ("$" allowed before it), so "The answer is 18
  dollars and 0 cents." gives 18 and "The answer is 5 + 3 = 8." gives 5; a phrase not followed by a
  number ("The answer is seven.") states no answer;
- thousands separators, a dollar sign and a closing dot are removed, and numbers compare by value, so
  "$1,042", "1042" and "1042.00" are the same answer.
Gold answers end the reference solution as "#### X" (14 test answers are written with thousands
separators, e.g. "2,125"). Both become one canonical decimal string ("18", "-3", "2.5") so that
answers vote together in maj1@k and compare equal.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

ANSWER = re.compile(r"the answer is\s*(-?)\s*\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)",
                    re.IGNORECASE)
PHRASE = re.compile(r"the answer is", re.IGNORECASE)


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
    """The number right after the first "The answer is", canonical; None when there is none."""
    first = PHRASE.search(completion)
    if first is None:
        return None
    found = ANSWER.match(completion, first.start())
    return canonical_number(found.group(1) + found.group(2)) if found else None
