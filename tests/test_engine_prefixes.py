"""A prefix shared by different contexts (a few-shot preamble) is forwarded once, with unchanged results."""
from __future__ import annotations

import pytest

from test_engine_scoring import STORY, direct_loglikelihood
from evalkit.engine import Engine
from evalkit.engine.encoding import encode_pair
from evalkit.engine.prefixes import MIN_SHARED_PREFIX, common_prefix_length, families
from evalkit.requests import LoglikelihoodRequest

QUESTIONS = ["Who saw the ball?", "What color was the ball?", "Where did Lily play?", "Was it too high?"]


def test_families_group_long_shared_prefixes_only():
    preamble = tuple(range(100, 100 + MIN_SHARED_PREFIX + 8))
    shared = [preamble + (1, 2), preamble + (3,), preamble + (3, 4, 5)]
    short = [(7,) * 5 + (1,), (7,) * 5 + (2,)]  # share 5 tokens: not worth a prefix forward
    found = families(shared + short, lambda c: c)
    assert sorted(found) == sorted([(preamble, sorted(shared)), ((), sorted(short))])
    # the prefix stops one token short of the shortest member, which must still predict its continuation
    (prefix, members), = families([preamble, preamble + (9,)], lambda c: c)
    assert prefix == preamble[:-1] and len(members) == 2
    assert common_prefix_length((1, 2, 3), (1, 2, 4, 5)) == 2 and common_prefix_length((1,), (1, 2)) == 1


def test_a_short_common_header_does_not_swallow_longer_preambles():
    """MMLU: every subject starts with the same header, each subject's shots are shared far longer."""
    header = tuple(range(1000, 1040))
    math_shots, law_shots = header + tuple(range(2000, 2100)), header + tuple(range(3000, 3100))
    math = [math_shots + (i,) for i in range(3)]
    law = [law_shots + (i, i) for i in range(3)]
    lone = header + (1500,) * 10  # sorts first and shares only the header with the others
    found = families([lone] + math + law, lambda c: c)
    assert sorted(found) == sorted([(math_shots, math), (law_shots, law), ((), [lone])])


def test_shared_preamble_is_forwarded_once_and_scores_equal_a_direct_forward(stories):
    preamble = STORY * 2  # about 80 tokens with the stories tokenizer
    requests = [LoglikelihoodRequest(f"{preamble}Question: {q}\nAnswer:", f" {letter}")
                for q in QUESTIONS for letter in "AB"]
    engine = Engine(stories, batch_size=32)
    results = engine.loglikelihood(requests)
    assert engine.stats.prefix_tokens_reused >= (len(QUESTIONS) - 1) * MIN_SHARED_PREFIX
    context_tokens = sum(len(encode_pair(stories.tokenizer, r.context, r.continuation)[0]) for r in requests[::2])
    assert engine.stats.tokens_forwarded < context_tokens / 2  # the preamble once, not once per question
    for request, result in zip(requests, results):
        context, continuation = encode_pair(stories.tokenizer, request.context, request.continuation)
        direct, greedy = direct_loglikelihood(stories.model, context, continuation)
        assert result.loglikelihood == pytest.approx(direct, abs=1e-4)
        assert result.is_greedy == greedy
