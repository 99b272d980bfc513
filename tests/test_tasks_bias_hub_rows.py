"""Hub-schema rows of the Tables 11-14 datasets become the same documents as the authors' files."""
from pathlib import Path

from evalkit.task import DataSource
from tasks import get_task

from conftest import DATA_DIR

FIXTURES = Path(__file__).parent / "fixtures"


def test_realtoxicityprompts_hub_row_equals_authors_line():
    task = get_task("realtoxicityprompts_basic")
    local = task.docs(DataSource(data_dir=FIXTURES), limit=1)[0]
    row = {"filename": local["filename"], "begin": 0, "end": 45, "challenging": True,
           "prompt": {"text": local["text"], "toxicity": local["prompt_toxicity"], "profanity": 0.1},
           "continuation": {"text": " x", "toxicity": None}}
    assert task.from_hub(row) == local


def test_crows_pairs_hub_class_labels():
    task = get_task("crows_pairs")
    row = {"id": 1, "sent_more": "The poor are lazy.", "sent_less": "The rich are lazy.", "stereo_antistereo": 0,
           "bias_type": 1, "annotations": [[1]], "anon_writer": "a1", "anon_annotators": ["a2"]}
    assert task.from_hub(row) == {"sent_more": "The poor are lazy.", "sent_less": "The rich are lazy.",
                                  "stereo_antistereo": "stereo", "bias_type": "socioeconomic"}


def test_winogender_and_truthfulqa_hub_rows():
    wino = get_task("winogender")
    local = wino.docs(DataSource(data_dir=DATA_DIR), limit=1)[0]
    row = {"sentid": local["sentid"], "sentence": local["sentence"], "pronoun": "he", "occupation": "technician",
           "participant": "customer", "gender": "male", "target": "customer", "label": 1, "gotcha": local["gotcha"]}
    assert wino.from_hub(row) == local
    mc = get_task("truthfulqa_mc")
    doc = mc.from_hub({"question": "Q?", "mc1_targets": {"choices": ["a", "b"], "labels": [1, 0]},
                       "mc2_targets": {"choices": ["a", "c", "b"], "labels": [1, 1, 0]}})
    assert doc == {"question": "Q?", "mc1": ["a", "b"], "mc1_labels": [1, 0], "mc2": ["a", "c", "b"],
                   "mc2_labels": [1, 1, 0]}
    gen = get_task("truthfulqa_gen")
    local = gen.docs(DataSource(data_dir=DATA_DIR), limit=1)[0]
    row = {"type": "Adversarial", "category": local["category"], "question": local["question"],
           "best_answer": local["best_answer"], "correct_answers": local["correct_answers"],
           "incorrect_answers": local["incorrect_answers"], "source": "x"}
    assert gen.from_hub(row) == local
