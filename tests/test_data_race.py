"""RACE in the authors' tarball layout (tests/fixtures/race): one JSON article per file, one doc per question."""
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.task import DataSource
from tasks import get_task

FIXTURES = Path(__file__).parent / "fixtures"


def test_one_document_per_question_in_numeric_file_order():
    docs = get_task("race_middle").docs(DataSource(data_dir=FIXTURES))
    assert [(d["article_id"], d["question"]) for d in docs] == [
        ("middle1.txt", "Where does the cat sleep?"),
        ("middle2.txt", "When does Anna write in her diary?"),
        ("middle2.txt", "Anna's diary is _ ."),
        ("middle10.txt", "What should students bring?"),
    ]
    assert [d["label"] for d in docs] == [1, 2, 0, 1]
    assert docs[1]["choices"] == ["In the morning.", "At lunch.", "Every night.", "Never."]


def test_high_and_prompt():
    task = get_task("race_high")
    docs = task.docs(DataSource(data_dir=FIXTURES))
    assert len(docs) == 2
    requests = task.requests(docs[0], 0, seed=0)
    assert requests[0].context == ("Article: Rivers shape the land over thousands of years by carrying sand and "
                                   "stones downstream.\n\nQ: What is the main idea?\nA:")
    assert [r.continuation for r in requests[:4]] == [" Rivers change the land slowly.", " Sand is heavy.",
                                                      " Stones float.", " Rivers are new."]
    assert requests[4].context == "A:"  # acc_answer is RACE's headline: unconditional requests follow, after
    #                                     the label the prompt ends with (GPT-3 section 2.4)


def test_earlier_questions_of_the_article_come_with_their_answers_as_gpt3_shows_them():
    task = get_task("race_middle")
    docs = task.docs(DataSource(data_dir=FIXTURES))
    assert [len(d["earlier"]) for d in docs] == [0, 0, 1, 0]
    assert task.requests(docs[2], 2, seed=0)[0].context == (
        "Article: Anna keeps a diary. She writes in it every night before bed.\n\n"
        "Q: When does Anna write in her diary?\nA: Every night.\n\n"
        "Q: Anna's diary is _ .\nA:")


def test_mismatched_lists_name_file_and_fields(tmp_path):
    folder = tmp_path / "race" / "test" / "middle"
    folder.mkdir(parents=True)
    (folder / "5.txt").write_text('{"answers": ["A"], "options": [], "questions": ["Q?"], "article": "x", "id": "m5"}')
    with pytest.raises(DataError, match=r"5\.txt.*'options'"):
        get_task("race_middle").docs(DataSource(data_dir=tmp_path))


def test_answer_letter_out_of_range(tmp_path):
    folder = tmp_path / "race" / "test" / "high"
    folder.mkdir(parents=True)
    (folder / "7.txt").write_text('{"answers": ["E"], "options": [["a","b","c","d"]], "questions": ["Q?"], '
                                  '"article": "x", "id": "h7"}')
    with pytest.raises(DataError, match=r"7\.txt: question 1: field 'answers'"):
        get_task("race_high").docs(DataSource(data_dir=tmp_path))
