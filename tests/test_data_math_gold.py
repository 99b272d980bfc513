"""Every gold answer of the real GSM8K and MATH files parses: none is silently unscorable."""
import gzip
import json

import pytest

from evalkit.metrics.math_answer import last_boxed, normalize_final_answer
from evalkit.metrics.numeric_answer import gold_answer

from conftest import DATA_DIR


def read(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("split, count", [("test", 1319), ("train", 7473)])
def test_every_gsm8k_gold_is_a_number(split, count):
    path = DATA_DIR / "gsm8k" / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    rows = read(path)
    unparsed = [i for i, row in enumerate(rows) if gold_answer(row["answer"]) is None]
    assert len(rows) == count
    assert unparsed == [], f"{len(unparsed)} GSM8K {split} golds do not parse: rows {unparsed[:20]}"
    with_commas = [row for row in rows if "," in row["answer"].rsplit("####", 1)[1]]
    assert all("," not in gold_answer(row["answer"]) for row in with_commas)


def test_every_math_solution_has_a_boxed_answer_the_normalizer_accepts():
    path = DATA_DIR / "math" / "test.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    rows = read(path)
    no_box = [row["idx"] for row in rows if last_boxed(row["solution"]) is None]
    empty = [row["idx"] for row in rows if last_boxed(row["solution"]) is not None
             and not normalize_final_answer(last_boxed(row["solution"]))]
    assert len(rows) == 5000
    assert (no_box, empty) == ([], []), f"no \\boxed: {len(no_box)} {no_box[:20]}; normalized to nothing: " \
                                        f"{len(empty)} {empty[:20]}"
    several = sum(row["solution"].count("\\boxed") > 1 for row in rows)
    assert several == 90  # data/MANIFEST.md: 90 solutions hold more than one \boxed; the last one is the answer
