"""Generation keeps the prompt whole and never runs past the window; the runner counts what the window
changed; a NaN model or an empty continuation stops the run with a line naming the task and document."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import REPO, STORIES_BIN, needs_stories
from evalkit.engine import Engine
from evalkit.errors import RequestError
from evalkit.requests import GenerateRequest, LoglikelihoodRequest
from evalkit.window import generation_budget, window_counts

STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
         "One day, she saw a big, red ball.")


def test_budget_keeps_the_prompt_and_caps_new_tokens():
    fits = generation_budget(100, 50, 512)
    assert (fits.kept_tokens, fits.new_tokens, fits.cut, fits.capped) == (100, 50, False, False)
    tight = generation_budget(100, 512, 512)  # HumanEval's 512 new tokens in a 512-token window
    assert (tight.kept_tokens, tight.new_tokens, tight.cut, tight.capped) == (100, 413, False, True)
    full = generation_budget(512, 10, 512)  # forwarded: 512 prompt tokens, the one new token is not fed back
    assert (full.kept_tokens, full.new_tokens, full.cut) == (512, 1, False)
    over = generation_budget(700, 10, 512)
    assert (over.kept_tokens, over.new_tokens, over.cut, over.capped) == (512, 1, True, True)


@needs_stories
def test_long_generation_sees_the_whole_prompt_and_stays_in_the_window(stories):
    engine = Engine(stories)
    prompt_tokens = len(stories.tokenizer.encode(STORY, bos=True))
    short = engine.generate([GenerateRequest(STORY, max_new_tokens=24)])[0].texts[0]
    before = engine.stats.tokens_generated
    long = engine.generate([GenerateRequest(STORY, max_new_tokens=5000)])[0].texts[0]
    # greedy: the long text continues the short one only if the model saw the same (whole) prompt
    assert long.startswith(short) and len(long) > len(short)
    assert engine.stats.tokens_generated - before <= 512 - prompt_tokens + 1


def test_window_counts_documents_cut_and_capped():
    count = len  # one token per character
    docs = [[GenerateRequest("a" * 10, max_new_tokens=5)], [GenerateRequest("a" * 30, max_new_tokens=5)],
            [GenerateRequest("a" * 50, max_new_tokens=5), GenerateRequest("b", max_new_tokens=1)]]
    assert window_counts(docs, 32, count) == {"max_length": 32, "documents": 3, "prompt_cut": 1,
                                              "new_tokens_capped": 2}
    assert window_counts([[LoglikelihoodRequest("a", " b")]], 32, count) is None


@pytest.fixture()
def nan_model(stories):
    import copy
    broken = copy.deepcopy(stories)
    with torch.no_grad():
        broken.model.layers[0].attention.wq.weight[0, 0] = float("nan")
    return broken


@needs_stories
def test_nan_weights_stop_scoring_and_generation(nan_model):
    engine = Engine(nan_model)
    with pytest.raises(RequestError, match="not finite") as caught:
        engine.loglikelihood([LoglikelihoodRequest(STORY, " She was sad.")])
    assert caught.value.request == LoglikelihoodRequest(STORY, " She was sad.")
    with pytest.raises(RequestError, match="not finite"):
        engine.generate([GenerateRequest(STORY, max_new_tokens=4)])


@needs_stories
def test_empty_continuation_is_an_error_naming_the_request(stories):
    with pytest.raises(RequestError, match="tokenizes to no tokens") as caught:
        Engine(stories).loglikelihood([LoglikelihoodRequest("The cat", " sat"), LoglikelihoodRequest("The cat", "")])
    assert caught.value.request == LoglikelihoodRequest("The cat", "")


@needs_stories
def test_generate_command_stays_in_the_window_and_says_so():
    proc = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "generate", "--model", str(STORIES_BIN),
                           "--prompt", STORY, "--max-new-tokens", "5000"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "window is 512 tokens" in proc.stderr and "not 5000" in proc.stderr
