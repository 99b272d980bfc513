"""MMLU-shaped scoring: 5-shot prompts of ~600 tokens (550-650), answers " A".." D" of one token each.

Same comparison as engine_hellaswag.py (lm-eval's HF loop at batch 8 vs the engine). With one-token
answers both forward each prompt once and read all four answers from its last position (lm-eval
through its logits cache). As in MMLU, the questions of one subject share their five shots (a
~450-520-token preamble, `--per-subject` questions each), which the engine forwards once per subject;
`--per-subject 1` gives every question its own shots.

    .venv/bin/python benchmarks/engine_mmlu.py --questions 6
"""
from __future__ import annotations

import argparse
import random

import torch

from engine_common import THREADS_HELP, random_text
from engine_hellaswag import compare
from evalkit.requests import LoglikelihoodRequest

LETTERS = (" 319", " 350", " 315", " 360")  # LLaMA's ids of "▁A", "▁B", "▁C", "▁D"


def workload(questions: int, per_subject: int, seed: int = 0) -> list[list[LoglikelihoodRequest]]:
    rng = random.Random(seed)
    contexts = []
    for i in range(questions):
        if i % per_subject == 0:
            shots = random_text(rng, rng.randint(450, 520))
        contexts.append((shots + random_text(rng, rng.randint(100, 130))).strip())
    return [[LoglikelihoodRequest(context, letter) for letter in LETTERS] for context in contexts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=6, help="6 keeps the baseline near 2 minutes on 2 CPU cores")
    parser.add_argument("--per-subject", type=int, default=3, help="questions sharing one subject's shots")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    compare(workload(args.questions, args.per_subject),
            f"MMLU-shaped: {args.questions} questions ({args.per_subject} per subject sharing its shots), "
            "~600-token 5-shot prompts, 4 one-token answers")


if __name__ == "__main__":
    main()
