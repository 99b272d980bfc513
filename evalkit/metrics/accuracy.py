"""The three multiple-choice rules of the LLaMA paper, computed from the same log-likelihoods.

- "none"   (`acc`):        argmax log P(choice | context)
- "char"   (`acc_char`):   argmax log P(choice | context) / len(choice) in characters
                           (Gao et al. 2021; the paper's rule for most Table 3 tasks)
- "answer" (`acc_answer`): argmax log P(choice | context) - log P(choice | "Answer:")
                           (Brown et al. 2020; the paper's rule for BoolQ and OpenBookQA)
"""
from __future__ import annotations


def choose(rule: str, loglikelihoods: list[float], choices: list[str],
           unconditional: list[float] | None = None) -> int:
    """Index of the choice picked by `rule`; ties go to the first choice."""
    if rule == "none":
        scores = loglikelihoods
    elif rule == "char":
        scores = [ll / max(len(choice), 1) for ll, choice in zip(loglikelihoods, choices)]
    elif rule == "answer":
        if unconditional is None:
            raise ValueError("the 'answer' rule needs the unconditional log-likelihoods")
        scores = [ll - u for ll, u in zip(loglikelihoods, unconditional)]
    else:
        raise ValueError(f"unknown multiple-choice rule {rule!r}")
    return max(range(len(scores)), key=scores.__getitem__)
