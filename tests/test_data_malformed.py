"""A malformed file gives one DataError line naming the file, the line or record, and the field."""
import json

import pytest

from evalkit.errors import DataError
from evalkit.task import DataSource
from tasks import get_task

ARC_OK = {"id": "x1", "question": {"stem": "Q?", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]},
          "answerKey": "A"}


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def arc_error(tmp_path, second_row) -> str:
    write_jsonl(tmp_path / "arc/ARC-Easy/ARC-Easy-Test.jsonl", [ARC_OK, second_row])
    with pytest.raises(DataError) as err:
        get_task("arc_easy").docs(DataSource(data_dir=tmp_path))
    message = str(err.value)
    assert "\n" not in message and "ARC-Easy-Test.jsonl:2" in message
    return message


def test_bad_json(tmp_path):
    assert "invalid JSON" in arc_error(tmp_path, '{"id": "x2", "question": ')


def test_missing_field(tmp_path):
    assert "'answerKey'" in arc_error(tmp_path, {k: v for k, v in ARC_OK.items() if k != "answerKey"})


def test_label_out_of_range(tmp_path):
    assert "'answerKey'" in arc_error(tmp_path, {**ARC_OK, "answerKey": "E"})


def test_empty_choice_list(tmp_path):
    assert "'choices'" in arc_error(tmp_path, {**ARC_OK, "question": {"stem": "Q?", "choices": []}})


def test_label_file_line(tmp_path):
    write_jsonl(tmp_path / "piqa/valid.jsonl", [{"goal": "g", "sol1": "a", "sol2": "b"}] * 2)
    (tmp_path / "piqa/valid-labels.lst").write_text("0\n2\n")
    with pytest.raises(DataError, match=r"valid-labels\.lst:2: field 'label'"):
        get_task("piqa").docs(DataSource(data_dir=tmp_path))


def test_label_count_mismatch(tmp_path):
    write_jsonl(tmp_path / "siqa/dev.jsonl", [{"context": "c", "question": "q", "answerA": "a", "answerB": "b",
                                               "answerC": "c"}] * 2)
    (tmp_path / "siqa/dev-labels.lst").write_text("1\n")
    with pytest.raises(DataError, match=r"dev-labels\.lst: 1 labels for 2 records"):
        get_task("siqa").docs(DataSource(data_dir=tmp_path))


def test_boolq_answer_must_be_boolean(tmp_path):
    write_jsonl(tmp_path / "boolq/dev.jsonl", [{"question": "q", "title": "", "answer": "yes", "passage": "p"}])
    with pytest.raises(DataError, match=r"dev\.jsonl:1: field 'answer'"):
        get_task("boolq").docs(DataSource(data_dir=tmp_path))


def test_winogrande_needs_a_blank(tmp_path):
    write_jsonl(tmp_path / "winogrande/winogrande_1.1/dev.jsonl",
                [{"qID": "q", "sentence": "No blank here.", "option1": "a", "option2": "b", "answer": "1"}])
    with pytest.raises(DataError, match=r"dev\.jsonl:1: field 'sentence'"):
        get_task("winogrande").docs(DataSource(data_dir=tmp_path))


def test_mmlu_csv_record_and_column(tmp_path):
    folder = tmp_path / "mmlu/test"
    folder.mkdir(parents=True)
    (folder / "anatomy_test.csv").write_text("Q1?,a,b,c,d,A\nQ2?,a,b,c,d,F\n")
    with pytest.raises(DataError, match=r"anatomy_test\.csv: record 2: field 'answer"):
        get_task("mmlu").docs(DataSource(data_dir=tmp_path))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"hellaswag_val\.jsonl\.gz: cannot open"):
        get_task("hellaswag").docs(DataSource(data_dir=tmp_path))
