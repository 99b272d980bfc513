"""MATH answers as Minerva judges them (Lewkowycz et al. 2022, appendix D): extraction, normalization,
and equivalence, with Minerva's substring rules replaced where they break LaTeX.

- Extraction (the headline, Minerva's rule): the model's answer is X in "Final Answer: The final answer
  is X. I hope it is correct." found with Minerva's own pattern (any character before " I hope", X on
  one line; "I hope it is correct." is appended to the completion first, as Minerva's prompt ends every
  exemplar with it). A completion without that line has no answer and scores 0, as in Minerva and
  lm-eval's `minerva_math`. `lenient_answer` also takes the last \\boxed{} when there is no such line:
  a separate metric, never the headline. A gold answer is the last \\boxed{...} of the reference
  solution (90 test solutions hold more than one), braces matched, a trailing "." dropped (problem 2269
  boxes "\\frac{7}{5} + \\frac{1}{5} i.").
- Normalization: Minerva's `normalize_final_answer` (the text after the last "=", its substitutions
  and removed expressions, the math span kept, \\text/\\textbf/\\overline/\\boxed unwrapped,
  "\\frac12" -> "\\frac{1}{2}", "\\sqrt2" -> "\\sqrt{2}", "$" removed), except where a substring rule
  would break LaTeX (the unit, comma and root rules are also lm-eval 0.4.13's `minerva_math`):
  * unit words ("ft", "cm", "ways", ...) are removed as words, never inside a LaTeX command (Minerva's
    substring rule turns `\\left` into `\\le` and `\\infty` into `\\iny`), and the articles "a"/"an"
    only before a word (Minerva's "a " also eats the variable of "2a + b" and the end of `\\alpha x`);
  * `\\left` and `\\right` are dropped: they size delimiters and mean nothing (not in Minerva);
  * commas are removed only in a thousands-separator shape ("10,000"), not from a list "4,6,14,15";
  * `\\sqrt[3]{2}` is kept (Minerva's rule makes it `\\sqrt{[}3]{2}`), and `\\sqrt[3]2` is read as
    `\\sqrt[3]{2}`.
- Equivalence: equal normalized strings, else both parsed from LaTeX to SymPy (latex2sympy2_extended)
  and sympy.simplify(a - b) == 0 within a time limit (SIGALRM, as Minerva's checker and lm-eval); a
  parse failure or a timeout is "not equivalent", and timeouts are counted, not hidden.
"""
from __future__ import annotations

import contextlib
import functools
import re
import signal
import threading

# Minerva's pattern, unescaped dots included: any character before " I hope", and X on one line.
FINAL_ANSWER = re.compile(r"Final Answer: The final answer is(.*?). I hope it is correct.")
CLOSING = "I hope it is correct."
SYMBOLIC_TIME_LIMIT_S = 5.0  # per comparison, as Minerva's checker and lm-eval's

# Minerva appendix D, in order. The articles are removed as words (ARTICLE), not by these substitutions.
SUBSTITUTIONS = [(".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
                 (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}")]
UNIT_WORDS = ["square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "sue",
              "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
              "edges", "students", "childrentickets", "multiples"]
REMOVED_EXPRESSIONS = ["\\ldots", "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3",
                       "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;", r",\!", "{,}", '"',
                       "\\dots"]
# An article starts a word and is followed by one ("a multiple of 3"; not the variable in "2a + b").
ARTICLE = re.compile(r"(?<![^\s{])an? (?=[A-Za-z]{2})")
# A unit word: not preceded by a letter or a backslash (so not the tail of a command such as \left),
# not followed by a letter.
UNIT_WORD = re.compile(r"(?<![A-Za-z\\])(?:" + "|".join(UNIT_WORDS) + r")(?![A-Za-z])")
SIZING = re.compile(r"\\(?:left|right)(?![A-Za-z])")
THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+")


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
    """The model's final answer by Minerva's rule, unnormalized; None when there is no "Final Answer" line."""
    found = FINAL_ANSWER.search(completion + CLOSING)
    return found.group(1).strip() if found else None


def normalize_final_answer(answer: str) -> str:
    """Minerva's normalization of a final answer (appendix D of Lewkowycz et al. 2022), its substring rules
    made LaTeX-safe as the module docstring says."""
    answer = answer.split("=")[-1]
    answer = UNIT_WORD.sub("", ARTICLE.sub("", answer))  # while spaces still separate words: "2\pi cm"
    for before, after in SUBSTITUTIONS:
        answer = answer.replace(before, after)
    answer = UNIT_WORD.sub("", answer)  # units the removed spaces glued on: "10 cm" -> "10cm" -> "10"
    answer = SIZING.sub("", answer)     # \left( -> (: delimiter sizes are typography, not mathematics
    for expression in REMOVED_EXPRESSIONS:
        answer = answer.replace(expression, "")
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)      # \frac12 -> \frac{1}{2}
    answer = re.sub(r"(sqrt)(\[[^\]]*\])(\w)", "\\1\\2{\\3}", answer)  # \sqrt[3]2 -> \sqrt[3]{2}
    answer = re.sub(r"(sqrt)(?!\[)([^{])", "sqrt{\\2}", answer)       # \sqrt2 -> \sqrt{2}; \sqrt[3]{2} kept
    answer = answer.replace("$", "")
    if THOUSANDS.fullmatch(answer):                                    # 100,000 -> 100000; not "4,6,14,15"
        answer = answer.replace(",", "")
    return answer


def gold_answer(solution: str) -> str | None:
    """The reference solution's last boxed answer, normalized (None if it has none)."""
    boxed = last_boxed(solution)
    return None if boxed is None else normalize_final_answer(gold_boxed(boxed))


def gold_boxed(boxed: str) -> str:
    """A gold box's text without a closing sentence dot ("\\frac{7}{5} + \\frac{1}{5} i." in problem 2269)."""
    text = boxed.strip()
    return text[:-1] if text.endswith(".") and not text.endswith("\\.") else text


def model_answer(completion: str) -> str | None:
    """The model's final answer by Minerva's rule, normalized; None when the completion states none."""
    answer = extract_answer(completion)
    return None if answer is None else normalize_final_answer(answer) or None


def lenient_answer(completion: str) -> str | None:
    """Minerva's answer, else the completion's last \\boxed{} (a separate metric, not the paper's rule)."""
    answer = extract_answer(completion)
    if answer is None:
        answer = last_boxed(completion)
    return None if answer is None else normalize_final_answer(answer) or None


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
