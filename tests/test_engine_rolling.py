"""Windows: rolling text and over-long continuations; one window equals a direct forward, many cover every token once."""
from __future__ import annotations

import pytest
import torch

from test_engine_scoring import STORY, direct_loglikelihood
from evalkit.engine import Engine
from evalkit.engine.encoding import rolling_windows
from evalkit.requests import LoglikelihoodRequest, RollingLoglikelihoodRequest


def test_text_within_one_window_equals_direct_forward(stories):
    tokens = stories.tokenizer.encode(STORY)
    result = Engine(stories).loglikelihood_rolling([RollingLoglikelihoodRequest(STORY)])[0]
    direct, _ = direct_loglikelihood(stories.model, [stories.tokenizer.bos_id], tokens)
    assert result.num_tokens == len(tokens)
    assert result.loglikelihood == pytest.approx(direct, abs=1e-4)


def test_windows_predict_every_token_once_with_maximal_context():
    tokens = list(range(100, 137))  # 37 tokens, window 10: 10 + 10 + 10 + 7
    windows = rolling_windows(tokens, prefix=1, max_length=10)
    assert [len(w.continuation) for w in windows] == [10, 10, 10, 7]
    assert [t for w in windows for t in w.continuation] == tokens
    assert windows[0].context == (1,)
    for w in windows[1:]:
        assert len(w.context) + len(w.continuation) - 1 == 10  # the model always sees a full window
        assert list(w.context + w.continuation) == tokens[tokens.index(w.context[0]):][:len(w.context) + len(w.continuation)]


def test_many_windows_match_direct_window_sums(stories):
    text = STORY * 3
    max_length = 16
    engine = Engine(stories, batch_size=8, max_length=max_length)
    result = engine.loglikelihood_rolling([RollingLoglikelihoodRequest(text), RollingLoglikelihoodRequest(STORY)])
    tokens = stories.tokenizer.encode(text)
    windows = rolling_windows(tokens, stories.tokenizer.bos_id, max_length)
    direct = sum(direct_loglikelihood(stories.model, list(w.context), list(w.continuation))[0] for w in windows)
    assert len(windows) > 5
    assert result[0].num_tokens == len(tokens)
    assert result[0].loglikelihood == pytest.approx(direct, abs=1e-4)
    whole = Engine(stories).loglikelihood_rolling([RollingLoglikelihoodRequest(text)])[0]
    assert whole.loglikelihood > result[0].loglikelihood  # more context predicts a repeated story better
    assert result[1].loglikelihood < 0


def test_a_continuation_longer_than_the_window_is_scored_in_windows_not_cut(stories):
    """Each continuation token is predicted once, by a window of at most 8 tokens ending where it ends."""
    context, continuation, window = "Once upon a time", " there was a little girl named Lily who loved to play.", 8
    result = Engine(stories, max_length=window).loglikelihood([LoglikelihoodRequest(context, continuation)])[0]
    tokens = stories.tokenizer.encode(context + continuation, bos=True)
    n_context = len(stories.tokenizer.encode(context, bos=True))
    assert result.num_tokens == len(tokens) - n_context > 2 * window
    expected = 0.0
    with torch.inference_mode():
        for i in range(n_context, len(tokens)):
            start = n_context + (i - n_context) // window * window  # first token the window predicts
            end = min(start + window, len(tokens))
            logits = stories.model(torch.tensor([tokens[max(0, end - window - 1):i]]))[0, -1]
            expected += torch.log_softmax(logits, -1)[tokens[i]].item()
    assert result.loglikelihood == pytest.approx(expected, abs=1e-4)
