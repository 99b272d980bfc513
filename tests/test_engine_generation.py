"""Engine.generate: the llama2.c greedy reference, reproducible sampling, stop sequences, n samples."""
from __future__ import annotations

import pytest

from conftest import stories_reference
from evalkit.engine import Engine
from evalkit.engine.encoding import continuation_text
from evalkit.requests import cut_at_stop
from evalkit.requests import GenerateRequest

REFERENCE = stories_reference()
PROMPT = REFERENCE["prompt"]
NEW_TOKENS = len(REFERENCE["greedy_ids_with_bos"]) - len(REFERENCE["prompt_ids_with_bos"])  # 256 steps


@pytest.fixture(scope="module")
def greedy(stories):
    return Engine(stories).generate([GenerateRequest(PROMPT, max_new_tokens=NEW_TOKENS)])[0].texts[0]


def test_greedy_matches_llama2c_reference(stories, greedy):
    tok = stories.tokenizer
    assert tok.encode(PROMPT + greedy, bos=True) == REFERENCE["greedy_ids_with_bos"]
    assert PROMPT + greedy == REFERENCE["greedy_text"]


def sampled(n: int, seed: int = 7, context: str = PROMPT) -> GenerateRequest:
    return GenerateRequest(context, max_new_tokens=24, temperature=0.9, top_p=0.9, n=n, seed=seed)


def test_sampling_is_reproducible_across_batch_compositions(stories):
    target = sampled(4)
    alone = Engine(stories, batch_size=1).generate([target])[0].texts
    others = [sampled(3, seed=1, context="The cat"), GenerateRequest("Tom went", max_new_tokens=30),
              sampled(2, seed=5, context="Lily saw a big dog and she said")]
    mixed = Engine(stories, batch_size=32).generate(others + [target] + others)[len(others)].texts
    assert mixed == alone
    assert len(set(alone)) > 1  # samples differ from each other
    assert Engine(stories).generate([sampled(2)])[0].texts == alone[:2]  # sample k does not depend on n
    assert Engine(stories).generate([sampled(4, seed=8)])[0].texts != alone


def test_stop_sequence_spanning_two_tokens(stories, greedy):
    prompt_ids = REFERENCE["prompt_ids_with_bos"]
    ids = REFERENCE["greedy_ids_with_bos"][len(prompt_ids):]
    ends = [len(continuation_text(stories.tokenizer, prompt_ids, ids[:k])) for k in range(len(ids) + 1)]
    # the first token boundary with two visible characters on each side, whose 4 characters are new
    b = next(b for k, b in enumerate(ends[5:-1], 5) if b - ends[k - 1] >= 2 and ends[k + 1] - b >= 2
             and " " not in greedy[b - 2:b + 2] and greedy.index(greedy[b - 2:b + 2]) == b - 2)
    stop = greedy[b - 2:b + 2]
    engine = Engine(stories)
    text = engine.generate([GenerateRequest(PROMPT, until=(stop,), max_new_tokens=NEW_TOKENS)])[0].texts[0]
    assert text == greedy[:b - 2]
    assert engine.stats.tokens_generated == ends.index(b) + 1  # decoding stopped on the second token


def test_stop_sequences_cut_at_the_earliest(stories, greedy):
    until = (".", "\n", "Lily")
    text = Engine(stories).generate([GenerateRequest(PROMPT, until=until, max_new_tokens=60)])[0].texts[0]
    assert text == greedy[:greedy.index("Lily")]  # "Lily" comes before the others
    assert cut_at_stop("a.b\nc", ("\n", ".")) == "a"


def test_n_samples_prefill_once(stories):
    engine = Engine(stories)
    engine.generate([sampled(8)])
    prompt_tokens = len(stories.tokenizer.encode(PROMPT, bos=True))
    assert engine.stats.samples_generated == 8
    assert engine.stats.tokens_forwarded <= prompt_tokens + 8 * 24  # one prefill, then one token per step


@pytest.mark.parametrize("stop", [" ", "e", ", ", "girl named", "!", "é"])
def test_stop_found_on_the_tail_window_as_on_the_whole_text(stories, greedy, stop):
    """Stop strings are checked only on rows whose new token could end one, on a tail window: decoding
    must still stop at exactly the token where a search of the whole text would first find it."""
    prompt_ids = REFERENCE["prompt_ids_with_bos"]
    ids = REFERENCE["greedy_ids_with_bos"][len(prompt_ids):]
    engine = Engine(stories)
    text = engine.generate([GenerateRequest(PROMPT, until=("Zq", stop), max_new_tokens=NEW_TOKENS)])[0].texts[0]
    if stop not in greedy:
        assert text == greedy and engine.stats.tokens_generated == NEW_TOKENS
        return
    first = next(k for k in range(1, len(ids) + 1) if stop in continuation_text(stories.tokenizer, prompt_ids, ids[:k]))
    assert text == greedy[:greedy.index(stop)]
    assert engine.stats.tokens_generated == first


def test_many_samples_stop_independently(stories):
    """64 samples with a stop string: each equals the same sample generated alone."""
    request = GenerateRequest(PROMPT, until=(".",), max_new_tokens=40, temperature=1.0, n=64, seed=3)
    together = Engine(stories).generate([request])[0].texts
    assert len(together) == 64 and all("." not in t for t in together)
    alone = Engine(stories, batch_size=1).generate([GenerateRequest(PROMPT, until=(".",), max_new_tokens=40,
                                                                    temperature=1.0, n=5, seed=3)])[0].texts
    assert together[:5] == alone
    assert len(set(together)) > 10
