"""The response cache: rows keyed by model, request and sample index; a cache hit never calls the backend."""
from __future__ import annotations

import dataclasses

import pytest

from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult,
                              RollingLoglikelihoodRequest, RollingLoglikelihoodResult)
from evalkit.serving.dispatch import chunks, dispatch, group
from evalkit.serving.response_cache import ResponseCache, request_key

LL = LoglikelihoodRequest("The cat", " sat")
ROLL = RollingLoglikelihoodRequest("Once upon a time.")
GEN = GenerateRequest("Once upon a time", until=("\n",), max_new_tokens=8, temperature=1.0, n=3, seed=5)


def test_request_key_depends_on_every_field_but_n():
    assert request_key(GEN) == request_key(dataclasses.replace(GEN, n=40))
    for change in [dict(seed=6), dict(temperature=0.5), dict(until=()), dict(max_new_tokens=9), dict(top_p=0.9),
                   dict(context="Once")]:
        assert request_key(GEN) != request_key(dataclasses.replace(GEN, **change)), change
    assert request_key(LL) != request_key(LoglikelihoodRequest("The cat ", "sat"))
    assert request_key(ROLL) != request_key(LoglikelihoodRequest("", "Once upon a time."))


def test_rows_per_request_and_sample_written_once(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite", "model-a")
    pairs = [(LL, LoglikelihoodResult(-1.25, 1, True)), (ROLL, RollingLoglikelihoodResult(-7.5, 5)),
             (GEN, GenerateResult(("a", "b", "c")))]
    cache.put(pairs)
    cache.put(pairs[:1] + [(GEN, GenerateResult(("x", "y", "z")))])  # repeated chunk: nothing changes
    assert len(cache) == 1 + 1 + 3
    reopened = ResponseCache(tmp_path / "cache.sqlite", "model-a")
    assert reopened.get([LL, ROLL, GEN]) == dict(pairs)
    assert reopened.get([dataclasses.replace(GEN, n=2)]) == {dataclasses.replace(GEN, n=2): GenerateResult(("a", "b"))}
    assert reopened.get([dataclasses.replace(GEN, n=5)])[dataclasses.replace(GEN, n=5)].texts == ("a", "b", "c")
    assert ResponseCache(tmp_path / "cache.sqlite", "model-b").get([LL, ROLL, GEN]) == {}


def test_chunks_keep_a_shared_context_together_and_one_type_each():
    requests = [LoglikelihoodRequest(f"context {i % 3}", f" choice {i}") for i in range(12)] + [ROLL, GEN]
    planned = list(chunks(group(requests), lambda kind: 5))
    contexts = [{r.context for g in chunk for r in g.requests if isinstance(r, LoglikelihoodRequest)}
                for chunk in planned]
    assert [len(c) for c in contexts] == [1, 1, 1, 0, 0]  # groups of 4 never split, never combined past 5
    assert sorted((r for chunk in planned for g in chunk for r in g.requests), key=requests.index) == requests
    assert all(len({g.kind for g in chunk}) == 1 for chunk in planned)


@pytest.fixture(scope="module")
def engine(stories):
    from evalkit.backends.llama import LlamaBackend
    return LlamaBackend(stories, deterministic=True)


def test_cache_hit_returns_same_results_without_the_backend(engine, tmp_path):
    requests = [LoglikelihoodRequest("Once upon a time", c) for c in (" there", " a", " Lily")] + \
               [ROLL, LL, LL, dataclasses.replace(GEN, n=2)]
    cache = ResponseCache(tmp_path / "cache.sqlite", "stories")
    first = dispatch(engine, requests, cache, progress=False)
    assert first[4] == first[5]
    assert len(cache) == 5 + 2
    before = dataclasses.astuple(engine.stats)
    again = dispatch(engine, requests, ResponseCache(tmp_path / "cache.sqlite", "stories"), progress=False)
    assert dataclasses.astuple(engine.stats) == before
    assert again == first
    assert dispatch(engine, requests, None, progress=False) == first  # what the cache returned is what is computed


def test_generation_samples_keyed_by_seed_and_index(engine, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite", "stories")
    two = dispatch(engine, [dataclasses.replace(GEN, n=2)], cache, progress=False)[0]
    assert len(cache) == 2
    before = engine.stats.samples_generated
    four = dispatch(engine, [dataclasses.replace(GEN, n=4)], cache, progress=False)[0]
    assert len(cache) == 4 and four.texts[:2] == two.texts
    assert engine.stats.samples_generated - before == 2  # only the two missing samples were generated
    assert dispatch(engine, [dataclasses.replace(GEN, n=4)], None, progress=False)[0] == four
    other_seed = dispatch(engine, [dataclasses.replace(GEN, n=2, seed=6)], cache, progress=False)[0]
    assert len(cache) == 6 and other_seed != two
