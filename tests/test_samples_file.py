"""OUT/samples/<task>.jsonl read back: a document whose text holds U+0085 (NEL, in MMLU's test split) is one
line of JSON Lines, which str.splitlines() would cut in two; a broken line is named by file and line."""
from __future__ import annotations

import json

import pytest

from evalkit.errors import DataError
from evalkit.report.results import load_samples, samples_path


def write(out, records_or_lines):
    path = samples_path(out, "mmlu")
    path.parent.mkdir(parents=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records_or_lines), encoding="utf-8")


def test_a_next_line_character_inside_a_record_stays_in_its_record(tmp_path):
    records = [{"doc_id": 0, "metrics": {"acc": 1.0}, "prompt": "a\u0085b\u2028c"},
               {"doc_id": 1, "metrics": {"acc": 0.0}, "prompt": "plain"}]
    write(tmp_path, records)
    assert load_samples(tmp_path, "mmlu") == records


def test_a_broken_line_is_named(tmp_path):
    write(tmp_path, [{"doc_id": 0, "metrics": {}}, '{"doc_id": 1, "metrics":'])
    with pytest.raises(DataError, match=r"samples/mmlu.jsonl:2: not valid JSON"):
        load_samples(tmp_path, "mmlu")
