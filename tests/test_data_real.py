"""Every benchmark file in ../shared/data parses into the official number of documents."""
import pytest

from evalkit.task import DataSource
from tasks import get_task

from conftest import DATA_DIR

OFFICIAL_ROWS = {"boolq": 3270, "piqa": 1838, "siqa": 1954, "hellaswag": 10042, "winogrande": 1267,
                 "arc_easy": 2376, "arc_challenge": 1172, "openbookqa": 500, "mmlu": 14042}

pytestmark = pytest.mark.skipif(not DATA_DIR.is_dir(), reason="../shared/data is not present")


@pytest.mark.parametrize("name", OFFICIAL_ROWS)
def test_row_count_and_labels(name):
    docs = get_task(name).docs(DataSource(data_dir=DATA_DIR))
    assert len(docs) == OFFICIAL_ROWS[name]
    assert all(0 <= d["label"] < len(d["choices"]) for d in docs)


def test_mmlu_dev_pool_and_subjects():
    task = get_task("mmlu")
    docs = task.docs(DataSource(data_dir=DATA_DIR))
    assert len(task.fewshot_pool()) == 285
    assert len({d["subject"] for d in docs}) == 57


def test_arc_odd_labels_and_choice_counts():
    docs = get_task("arc_challenge").docs(DataSource(data_dir=DATA_DIR))
    assert sorted({len(d["choices"]) for d in docs}) == [3, 4, 5]
