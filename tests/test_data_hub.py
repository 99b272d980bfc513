"""The Hub path: Hub rows map to the same documents as the authors' files; no network gives a clear error."""
import os
import subprocess
import sys

import datasets
import pytest

from evalkit.task import DataSource
from tasks import get_task

from conftest import REPO

# The first example document of each task (evalkit/assets/examples), written in its Hub schema.
HUB_ROWS = {
    ("google/boolq", None, "validation"): [
        {"question": "is a tomato botanically a fruit", "answer": True,
         "passage": "Tomato -- Botanically, a tomato is a fruit, a berry, consisting of the ovary together with its "
                    "seeds, although cooks treat it as a vegetable."}],
    ("ybisk/piqa", None, "validation"): [
        {"goal": "To keep bread fresh for longer,", "sol1": "store it in a sealed bag in a cool place.",
         "sol2": "store it in an open bowl next to the oven.", "label": 0}],
    ("allenai/social_i_qa", None, "validation"): [
        {"context": "Jordan forgot an umbrella and walked home in the rain.",
         "question": "How would Jordan feel afterwards?", "answerA": "wet and cold", "answerB": "sunburned",
         "answerC": "well rested", "label": "1"}],
    ("Rowan/hellaswag", None, "validation"): [
        {"ind": 0, "activity_label": "Making tea", "ctx_a": "A woman fills a kettle with water and switches it on.",
         "ctx_b": "she", "ctx": "", "endings": ["throws the kettle out of the window.",
                                                "pours the hot water over a tea bag in a cup.",
                                                "paints the kettle bright red.", "sings to the water for an hour."],
         "source_id": "", "split": "val", "split_type": "indomain", "label": "1"}],
    ("allenai/winogrande", "winogrande_xl", "validation"): [
        {"sentence": "The trophy would not fit in the suitcase because the _ was too big.", "option1": "trophy",
         "option2": "suitcase", "answer": "1"}],
    ("allenai/ai2_arc", "ARC-Easy", "test"): [
        {"id": "Example_E1", "question": "Which of these is a source of light?",
         "choices": {"text": ["a mirror", "the Sun", "the Moon's shadow", "a rock"], "label": ["A", "B", "C", "D"]},
         "answerKey": "B"}],
    ("allenai/ai2_arc", "ARC-Challenge", "test"): [
        {"id": "Example_C1", "question": "A student drops a ball and a feather in a room with no air. What happens?",
         "choices": {"text": ["The ball lands first.", "The feather lands first.", "They land at the same time.",
                              "Neither falls."], "label": ["A", "B", "C", "D"]}, "answerKey": "C"}],
    ("allenai/openbookqa", "main", "test"): [
        {"id": "7-1", "question_stem": "A magnet will most likely pick up",
         "choices": {"text": ["a paper clip", "a wooden spoon", "a glass marble", "a cotton ball"],
                     "label": ["A", "B", "C", "D"]}, "answerKey": "A"}],
    ("ehovy/race", "middle", "test"): [
        {"example_id": "middle1.txt", "article": "Tom lives in a small village near the sea. Every morning he gets up "
         "at six and helps his father feed the chickens. Then he walks to school with his sister Lily. On Saturdays the "
         "family goes fishing, and Tom likes to count the boats in the harbour.",
         "question": "What does Tom do every morning?", "answer": "B",
         "options": ["He goes fishing.", "He helps feed the chickens.", "He counts boats.", "He sleeps late."]}],
    ("ehovy/race", "high", "test"): [
        {"example_id": "high1.txt", "article": "Bees are important to farmers because they carry pollen from flower to "
         "flower. Without them, many fruits and vegetables would not grow. In recent years the number of bees has "
         "fallen in many countries, and scientists are studying the causes, including disease and the loss of wild "
         "flowers.", "question": "Why are bees important to farmers?", "answer": "B",
         "options": ["They make the soil richer.", "They carry pollen between flowers.", "They eat harmful insects.",
                     "They keep birds away."]}],
    ("cais/mmlu", "all", "test"): [
        {"question": "Which planet is known for its prominent rings?", "subject": "astronomy",
         "choices": ["Saturn", "Mercury", "Mars", "Venus"], "answer": 0}],
    ("cais/mmlu", "all", "dev"): [
        {"question": "Which planet is closest to the Sun?", "subject": "astronomy",
         "choices": ["Venus", "Mercury", "Earth", "Mars"], "answer": 1},
        {"question": "What is the name of the galaxy that contains the Solar System?", "subject": "astronomy",
         "choices": ["Andromeda", "Triangulum", "The Milky Way", "Sombrero"], "answer": 2}],
}


@pytest.fixture
def fake_hub(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None: HUB_ROWS[(path, name, split)])


@pytest.mark.parametrize("name", ["boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge",
                                  "openbookqa", "race_middle", "race_high", "mmlu"])
def test_hub_rows_give_the_same_documents_and_requests(fake_hub, name):
    hub_task, local_task = get_task(name), get_task(name)
    hub_doc = hub_task.docs(DataSource(), limit=1)[0]
    local_doc = local_task.docs(DataSource(examples=True), limit=1)[0]
    assert hub_doc == local_doc
    assert hub_task.requests(hub_doc, 0, seed=1) == local_task.requests(local_doc, 0, seed=1)


def test_hellaswag_hub_text_is_cleaned(monkeypatch):
    row = {"activity_label": "Washing a car", "ctx_a": "[header] How to wash a car [title] Rinse the car.",
           "ctx_b": "spray", "endings": ["[title] Scrub it. [step] Use  a sponge.", "b", "c", "d"], "label": "0"}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None: [row])
    task = get_task("hellaswag")
    request = task.requests(task.docs(DataSource())[0], 0, seed=0)[0]
    assert request.context == "Washing a car: How to wash a car. Rinse the car. Spray"
    # As in lm-eval: a leading "[title] " leaves a space, so the continuation starts with two.
    assert request.continuation == "  Scrub it. Use a sponge."


def test_offline_hub_gives_one_clear_line(tmp_path):
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    code = ("from evalkit.errors import DataError\nfrom evalkit.task import DataSource\nfrom tasks import get_task\n"
            "try:\n    get_task('arc_easy').docs(DataSource())\nexcept DataError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120).stdout
    assert out.count("\n") == 1
    assert "cannot load allenai/ai2_arc (ARC-Easy) split test from the Hugging Face Hub" in out
    assert "--data-dir" in out
