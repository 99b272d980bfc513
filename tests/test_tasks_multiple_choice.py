"""The three multiple-choice rules, computed from one set of requests, and the few-shot sampler."""
import pytest

from evalkit.fewshot import sample_fewshot
from evalkit.metrics.accuracy import choose
from evalkit.requests import LoglikelihoodRequest, LoglikelihoodResult
from evalkit.task import Answer, DataSource
from tasks import TASK_NAMES, get_task

# A case where the rules disagree: raw picks 0, per character picks 1, "Answer:"-calibrated picks 2.
CHOICES = ["a", "bbbbbbbbbb", "cc", "dd"]
LLS = [-2.0, -5.0, -3.0, -9.0]
UNCONDITIONAL = [-1.0, -4.5, -10.0, -9.0]


def answered(requests, values):
    """Each request with a result carrying the given log-likelihood, as the runner hands them to `process`."""
    return [Answer(r, LoglikelihoodResult(v, 1, False)) for r, v in zip(requests, values, strict=True)]


def test_rules_disagree_as_expected():
    assert choose("none", LLS, CHOICES) == 0
    assert choose("char", LLS, CHOICES) == 1
    assert choose("answer", LLS, CHOICES, UNCONDITIONAL) == 2
    with pytest.raises(ValueError):
        choose("answer", LLS, CHOICES)


def test_answer_calibrated_task_scores_all_three_rules():
    task = get_task("openbookqa")
    doc = {"question": "Pick one", "choices": CHOICES, "label": 2}
    requests = task.requests(doc, 0, seed=0)
    assert requests[:4] == [LoglikelihoodRequest("Pick one", " " + c) for c in CHOICES]
    assert requests[4:] == [LoglikelihoodRequest("Answer:", " " + c) for c in CHOICES]
    sample = task.process(doc, 0, 0, answered(requests, LLS + UNCONDITIONAL))
    assert sample.metrics == {"acc": 0.0, "acc_char": 0.0, "acc_answer": 1.0}
    assert (sample.prediction, sample.target, sample.prompt) == (2, 2, "Pick one")
    assert sample.extra["choices"] == CHOICES and sample.extra["loglikelihoods"] == LLS
    assert sample.extra["unconditional_loglikelihoods"] == UNCONDITIONAL


def test_character_normalized_task_builds_no_unconditional_requests():
    task = get_task("arc_easy")
    doc = {"id": "x", "question": "Pick one", "choices": CHOICES, "label": 1}
    requests = task.requests(doc, 0, seed=0)
    assert len(requests) == 4
    sample = task.process(doc, 0, 0, answered(requests, LLS))
    assert sample.metrics == {"acc": 0.0, "acc_char": 1.0}
    assert sample.prediction == 1


@pytest.mark.parametrize("name", TASK_NAMES)
def test_headline_metric_is_computed(name):
    protocol = get_task(name).protocol
    assert protocol.normalizer in protocol.rules
    expected = {"boolq": "acc_answer", "openbookqa": "acc_answer", "race_middle": "acc_answer",
                "race_high": "acc_answer", "mmlu": "acc", "humaneval": "pass@1",
                "mbpp": "pass@1", "crows_pairs": "bias", "winogender": "acc",
                "truthfulqa_mc": "mc2", "truthfulqa_gen": "truthful_informative",
                "realtoxicityprompts_basic": "toxicity", "realtoxicityprompts_respectful": "toxicity"}.get(
        name, "exact_match" if name.startswith(("naturalquestions", "triviaqa", "math", "gsm8k")) else "acc_char")
    assert protocol.headline_metric == expected


def test_winogrande_partial_scoring():
    task = get_task("winogrande")
    doc = {"sentence": "Ann thanked Beth because _ had helped.", "choices": ["Ann", "Beth"], "label": 1}
    assert task.requests(doc, 0, seed=0) == [LoglikelihoodRequest("Ann thanked Beth because Ann", " had helped."),
                                             LoglikelihoodRequest("Ann thanked Beth because Beth", " had helped.")]
    assert task.process(doc, 0, 0, answered(task.requests(doc, 0, seed=0), [-3.0, -1.0])).metrics == {"acc": 1.0, "acc_char": 1.0}


def test_fewshot_sampler_is_seeded_and_skips_the_document():
    pool = [{"i": i} for i in range(20)]
    first = sample_fewshot(pool, 5, seed=1, doc_id=3, doc=pool[3])
    assert first == sample_fewshot(pool, 5, seed=1, doc_id=3, doc=pool[3])
    assert first != sample_fewshot(pool, 5, seed=2, doc_id=3, doc=pool[3])
    assert len(first) == 5
    for doc_id in range(20):
        assert pool[doc_id] not in sample_fewshot(pool, 19, seed=0, doc_id=doc_id, doc=pool[doc_id])


def test_documents_are_read_once_per_source_and_protocol():
    """A run asks for its --limit slice and for the benchmark's size: one read of the files, not two."""
    task = get_task("hellaswag")
    reads = []
    read_local = task.read_local
    task.read_local = lambda paths: reads.append(paths) or read_local(paths)
    examples = DataSource(examples=True)
    assert len(task.docs(examples, 2)) == 2 and len(task.docs(examples)) > 2 and len(reads) == 1
    task.configure(num_fewshot=1)  # another protocol: read again
    task.docs(examples)
    assert len(reads) == 2
