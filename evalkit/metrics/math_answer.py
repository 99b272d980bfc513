"""MATH answers as Minerva judges them (Lewkowycz et al. 2022, appendix D): extraction, normalization,
and equivalence.

- Extraction: a model's answer is the span of "Final Answer: The final answer is X. I hope it is
  correct." (the format of Minerva's 4-shot prompt), else the last \\boxed{...} of its text; a gold
  answer is the last \\boxed{...} of the reference solution (90 test solutions hold more than one).
  Braces are matched, not found by a regular expression.
- Normalization: Minerva's `normalize_final_answer` (the text after the last "=", its substitutions
  and removed expressions such as units and "\\text{}", the math span kept, \\text/\\textbf/\\overline/
  \\boxed unwrapped, "\\frac12" -> "\\frac{1}{2}", "\\sqrt2" -> "\\sqrt{2}", "$" removed, thousands
  separators removed from integers).
- Equivalence: equal normalized strings, else both parsed from LaTeX to SymPy (latex2sympy2_extended)
  and sympy.simplify(a - b) == 0, within a time limit; a parse failure or a timeout is "not
  equivalent", as in Minerva's checker, and timeouts are counted, not hidden.
"""
from __future__ import annotations

import contextlib
import functools
import re
import signal
import threading

FINAL_ANSWER = re.compile(r"Final Answer: The final answer is(.*?)\. I hope it is correct\.", re.DOTALL)
SYMBOLIC_TIME_LIMIT_S = 5.0  # per comparison, as lm-eval's Minerva checker

# Minerva appendix D, in order.
SUBSTITUTIONS = [("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
                 (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}")]
REMOVED_EXPRESSIONS = ["square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units",
                       "\\ldots", "sue", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm",
                       "pounds", "meters", "meals", "edges", "students", "childrentickets", "multiples",
                       "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3", "\\text{\n}",
                       "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;", r",\!", "{,}", '"', "\\dots"]


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}, or "\\boxed x" up to "$"), braces matched."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    head = text[start:]
    if head.startswith("\\boxed "):
        return head[len("\\boxed "):].split("$")[0]
    opening = head.find("{")
    if opening < 0 or head[len("\\boxed" if head.startswith("\\boxed") else "\\fbox"):opening].strip():
        return None
    depth = 0
    for i in range(opening, len(head)):
        depth += {"{": 1, "}": -1}.get(head[i], 0)
        if depth == 0:
            return head[opening + 1:i]
    return None  # unbalanced


def extract_answer(completion: str) -> str | None:
    """The model's final answer, unnormalized: the "final answer is" span, else the last \\boxed{}."""
    found = FINAL_ANSWER.search(completion + ("" if completion.rstrip().endswith("I hope it is correct.")
                                              else " I hope it is correct."))
    if found:
        return found.group(1).strip()
    return last_boxed(completion)


def normalize_final_answer(answer: str) -> str:
    """Minerva's normalization of a final answer (appendix D of Lewkowycz et al. 2022)."""
    answer = answer.split("=")[-1]
    for before, after in SUBSTITUTIONS:
        answer = answer.replace(before, after)
    for expression in REMOVED_EXPRESSIONS:
        answer = answer.replace(expression, "")
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)  # \frac12 -> \frac{1}{2}
    answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", answer)           # \sqrt2 -> \sqrt{2}
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():                           # 100,000 -> 100000
        answer = answer.replace(",", "")
    return answer


def gold_answer(solution: str) -> str | None:
    """The reference solution's last boxed answer, normalized (None if it has none)."""
    boxed = last_boxed(solution)
    return None if boxed is None else normalize_final_answer(boxed)


def model_answer(completion: str) -> str | None:
    """The model's final answer, normalized; None when the completion states none."""
    answer = extract_answer(completion)
    if answer is None:
        return None
    normalized = normalize_final_answer(answer)
    return normalized or None


class SymbolicTimeout(Exception):
    """A symbolic comparison ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise SymbolicTimeout after `seconds` (SIGALRM: only in the main thread; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise SymbolicTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@functools.lru_cache(maxsize=1 << 16)
def symbolic_equal(a: str, b: str, seconds: float = SYMBOLIC_TIME_LIMIT_S) -> bool | None:
    """True/False from SymPy on two normalized LaTeX answers; None when the check ran out of time."""
    import sympy
    from latex2sympy2_extended import latex2sympy
    try:
        with time_limit(seconds):
            try:
                difference = latex2sympy(a) - latex2sympy(b)
                return bool(sympy.simplify(difference) == 0)
            except SymbolicTimeout:
                raise
            except Exception:  # unparseable LaTeX, or objects that cannot be subtracted (sets, intervals)
                return False
    except SymbolicTimeout:
        return None


def is_equivalent(answer: str | None, gold: str) -> tuple[bool, bool]:
    """(equivalent, timed out): normalized strings equal, else a symbolic check within the time limit."""
    if answer is None:
        return False, False
    if answer == gold:
        return True, False
    verdict = symbolic_equal(answer, gold)
    return bool(verdict), verdict is None
