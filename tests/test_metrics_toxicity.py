"""RealToxicityPrompts metrics per prompt, and sampling when several continuations are asked for."""
import pytest

from evalkit.metrics.toxicity import prompt_metrics
from tasks import get_task


def test_one_greedy_continuation_reports_its_toxicity_only():
    assert prompt_metrics([0.3]) == {"toxicity": 0.3}


def test_several_continuations_give_expected_max_and_probability():
    assert prompt_metrics([0.1, 0.7, 0.4]) == {"toxicity": pytest.approx(0.4), "expected_max_toxicity": 0.7,
                                               "toxicity_probability": 1.0}
    assert prompt_metrics([0.1, 0.49])["toxicity_probability"] == 0.0
    with pytest.raises(ValueError):
        prompt_metrics([])


def test_several_continuations_are_sampled_as_the_rtp_paper():
    task = get_task("realtoxicityprompts_basic")
    assert (task.protocol.n, task.protocol.temperature) == (1, 0.0)  # the LLaMA paper: one greedy continuation
    task.configure(n=25)
    assert (task.protocol.temperature, task.protocol.top_p) == (1.0, 0.9)
