"""MMLU: hendrycks/test prompt, first-k dev shots dropped to fit the window, per-category accuracy."""
import pytest

from conftest import DATA_DIR, needs_data, needs_stories
from evalkit.errors import DataError, UsageError
from evalkit.engine import Engine
from evalkit.requests import LoglikelihoodResult
from evalkit.task import Answer, DataSource, RunContext, SampleResult
from tasks import get_task

EXPECTED_PROMPT = """The following are multiple choice questions (with answers) about  high school geography.

Which line of latitude divides the Earth into the Northern and Southern Hemispheres?
A. The Tropic of Cancer
B. The Prime Meridian
C. The Arctic Circle
D. The Equator
Answer: D

A map that shows elevation with contour lines is called a
A. political map
B. topographic map
C. climate map
D. road map
Answer: B

Which river flows through Cairo?
A. The Nile
B. The Danube
C. The Amazon
D. The Thames
Answer:"""


def example_task():
    task = get_task("mmlu")
    return task, task.docs(DataSource(examples=True))


def test_prompt_and_letter_requests():
    task, docs = example_task()
    doc = docs[3]  # high_school_geography, second question; its dev split holds two shots
    requests = task.requests(doc, 3, seed=0)
    assert [r.continuation for r in requests] == [" A", " B", " C", " D"]
    assert all(r.context == EXPECTED_PROMPT for r in requests)


def test_shots_are_dropped_until_the_prompt_fits():
    task, docs = example_task()
    words = lambda text: len(text.split())  # noqa: E731 - a stand-in token counter
    fed = words(EXPECTED_PROMPT + " A") - 1  # the model is fed the sequence minus its last token
    assert task.prompt_and_shots(docs[3], RunContext(fed, words))[1] == 2
    context, k = task.prompt_and_shots(docs[3], RunContext(fed - 1, words))
    assert k == 1 and "topographic" not in context and "Prime Meridian" in context
    for window, shots in ((fed - 1, 1), (1, 0)):
        requests = task.requests(docs[3], 3, 0, RunContext(window, words))
        answers = [Answer(r, LoglikelihoodResult(v, 1, True)) for r, v in zip(requests, (-1.0, -2.0, -3.0, -4.0))]
        sample = task.process(docs[3], 3, 0, answers)
        assert sample.extra["num_fewshot"] == shots and sample.prediction == 0 and sample.metrics == {"acc": 1.0}


def test_header_has_the_original_double_space_and_questions_are_not_stripped():
    task, docs = example_task()
    doc = dict(docs[3], question="  Which river flows through Cairo? ")
    context = task.requests(doc, 3, seed=0)[0].context
    assert context.startswith("The following are multiple choice questions (with answers) about  high school "
                              "geography.\n\n")
    assert "\n\n  Which river flows through Cairo? \nA. The Nile" in context
    assert "about  abstract algebra" in task.protocol_dict()["notes"]


@needs_stories
def test_a_prompt_that_exactly_fills_the_window_keeps_its_shots(stories):
    task, docs = example_task()
    count = lambda text: len(stories.tokenizer.encode(text, bos=True))  # noqa: E731
    fed = count(EXPECTED_PROMPT + " A") - 1
    assert task.prompt_and_shots(docs[3], RunContext(fed, count)) == (EXPECTED_PROMPT, 2)
    requests = task.requests(docs[3], 3, 0, RunContext(fed, count))
    # the engine with that window scores the same as with a wide one: nothing of the prompt was cut
    assert Engine(stories, max_length=fed).loglikelihood(requests) == Engine(stories).loglikelihood(requests)
    assert task.prompt_and_shots(docs[3], RunContext(fed - 1, count))[1] == 1


def test_aggregate_is_micro_over_questions_with_categories():
    def sample(subject, correct):
        return SampleResult(0, "", 0, 0, {"acc": float(correct)}, {"subject": subject})
    samples = [sample("astronomy", 1), sample("astronomy", 0), sample("astronomy", 0),
               sample("philosophy", 1), sample("sociology", 1), sample("nutrition", 0)]
    metrics = get_task("mmlu").aggregate(samples)
    assert metrics["acc"] == 0.5                      # 3 of 6 questions (a macro mean would give 0.583)
    assert metrics["acc_stem"] == 1 / 3
    assert metrics["acc_humanities"] == 1.0
    assert metrics["acc_social_sciences"] == 1.0
    assert metrics["acc_other"] == 0.0
    assert metrics["acc_astronomy"] == 1 / 3


@needs_data
def test_each_subject_is_a_task_and_limit_is_per_subject():
    from collections import Counter
    source = DataSource(data_dir=DATA_DIR)
    algebra = get_task("mmlu_abstract_algebra")
    assert algebra.name == "mmlu_abstract_algebra" and algebra.protocol.subject == "abstract_algebra"
    docs = algebra.docs(source)
    assert len(docs) == 100 and {d["subject"] for d in docs} == {"abstract_algebra"}
    assert algebra.docs(source, limit=3) == docs[:3]
    counts = Counter(d["subject"] for d in get_task("mmlu").docs(source, limit=2))
    assert len(counts) == 57 and set(counts.values()) == {2}
    with pytest.raises(UsageError, match="no MMLU subject"):
        get_task("mmlu").configure(subject="astrology")
    with pytest.raises(UsageError, match="mmlu_<subject>"):
        get_task("mmlu_astrology")


@needs_data
def test_a_subject_task_reads_its_own_file_only(tmp_path):
    """mmlu_<subject> reads <subject>_test.csv, not all 57 files (ten subjects read 570 files otherwise);
    a broken file of another subject is then none of its business, while `mmlu` still refuses it."""
    for split in ("test", "dev"):
        folder = tmp_path / "mmlu" / split
        folder.mkdir(parents=True)
        (folder / f"anatomy_{split}.csv").write_bytes((DATA_DIR / "mmlu" / split / f"anatomy_{split}.csv").read_bytes())
        (folder / f"virology_{split}.csv").write_text('"a question","only two columns"\n')
    anatomy = get_task("mmlu_anatomy")
    docs = anatomy.docs(DataSource(data_dir=tmp_path))
    assert len(docs) == 135 and {d["subject"] for d in docs} == {"anatomy"}
    assert len(anatomy.requests(docs[0], 0, 1234)) == 4  # its dev shots came from its own dev file
    with pytest.raises(DataError, match="virology_test.csv"):
        get_task("mmlu").docs(DataSource(data_dir=tmp_path))
