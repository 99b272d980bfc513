"""The openai backend against evalkit's own `serve` (stories260K on a loopback port): the same answers as
the bundled engine in process, and a flaky or incapable server handled by retries or a clear error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA_DIR, STORIES_BIN
from evalkit.backends.http_retry import RetryPolicy
from evalkit.backends.base import BackendOptions
from evalkit.backends.openai import OpenAIBackend, _split_score, load
from evalkit.engine import Engine
from evalkit.errors import EvalkitError
from evalkit.requests import GenerateRequest, GenerateResult, LoglikelihoodRequest, RollingLoglikelihoodRequest
from evalkit.cli import main
from evalkit.task import DataSource
from fault_proxy import FaultProxy
from serve_process import serving
from tasks import get_task

NAME = "stories260K"
STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
         "One day, she saw a big, red ball. ")


@pytest.fixture(scope="module")
def server():
    with serving(STORIES_BIN) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def engine(stories):
    return Engine(stories)


def answer(backend, requests):
    """Each request answered by the backend method of its type, in order."""
    out = {}
    for kind, method in ((LoglikelihoodRequest, backend.loglikelihood),
                         (RollingLoglikelihoodRequest, backend.loglikelihood_rolling),
                         (GenerateRequest, backend.generate)):
        mine = [r for r in requests if isinstance(r, kind)]
        if mine:
            out.update(zip(mine, method(mine)))
    return [out[r] for r in requests]


def run_cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code


def samples(out: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


MMLU = "mmlu_abstract_algebra"  # one subject (--limit counts per subject): the first 10 of MMLU
SLICE = ("run", "--tasks", f"hellaswag,piqa,{MMLU}", "--data-dir", str(DATA_DIR), "--limit", "10", "--no-progress")


def test_table_slice_same_as_in_process(server, tmp_path):
    """10 documents of HellaSwag, PIQA (Table 3) and MMLU (Table 9) from the authors' files, `run` with
    the llama backend and with the openai backend against `serve`: the same per-document log-likelihoods
    (1e-4), predictions and MMLU shot counts (5 shots do not fit 512 tokens: the server counts tokens)."""
    assert run_cli(*SLICE, "--model", str(STORIES_BIN), "--output-dir", str(tmp_path / "local")) == 0
    assert run_cli(*SLICE, "--backend", "openai", "--model", NAME, "--base-url", server,
                   "--output-dir", str(tmp_path / "served")) == 0
    for task in ("hellaswag", "piqa", MMLU):
        local, served = samples(tmp_path / "local", task), samples(tmp_path / "served", task)
        assert len(local) == len(served) == 10
        for a, b in zip(local, served):
            assert b["prediction"] == a["prediction"]
            assert b["loglikelihoods"] == pytest.approx(a["loglikelihoods"], abs=1e-4)
            assert b.get("num_fewshot") == a.get("num_fewshot")
    assert {s["num_fewshot"] for s in samples(tmp_path / "served", MMLU)} != {5}
    results = json.loads((tmp_path / "served" / "results.json").read_text())
    assert results["model"]["backend"] == "openai" and results["model"]["max_length"] == 512
    cost = results["cost"]["hellaswag"]
    assert cost["requests_served"] == 40 and cost["http_requests"] >= 3 and cost["retries"] == 0


def test_rerun_resumes_from_the_response_cache(server, tmp_path, capsys):
    """The server goes down during the second task: one clear line, exit 2; the rerun asks only for
    what the cache lacks (HellaSwag is stored; PIQA's 20 requests are 2 HTTP requests)."""
    proxy = FaultProxy(server, "pass")
    argv = ("run", "--tasks", "hellaswag,piqa", "--data-dir", str(DATA_DIR), "--limit", "10", "--no-progress",
            "--backend", "openai", "--model", NAME, "--base-url", proxy.base_url, "--output-dir", str(tmp_path))
    try:
        proxy.budget = 3  # HellaSwag's 40 requests are 3 HTTP requests of 16 prompts
        assert run_cli(*argv) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "HTTP 503" in error[0] and "rerun to resume" in error[0]
        proxy.budget, proxy.completions = None, 0
        assert run_cli(*argv) == 0
        assert proxy.completions == 2
    finally:
        proxy.close()
    assert len(samples(tmp_path, "hellaswag")) == len(samples(tmp_path, "piqa")) == 10


def test_greedy_generation_identical(server, engine, stories):
    long_prompt = STORY * 12  # beyond the 512-token window: cut from the left as in process
    assert len(stories.tokenizer.encode(long_prompt, bos=True)) > engine.max_length
    requests = [GenerateRequest("Once upon a time", (), 40), GenerateRequest("Lily and Tom", (".",), 30),
                GenerateRequest("The cat", ("\n", "ball"), 60, n=3), GenerateRequest(long_prompt, (), 20),
                GenerateRequest("Tim", (), 0)]
    backend = OpenAIBackend(NAME, server)
    assert [r.texts for r in backend.generate(requests)] == [r.texts for r in engine.generate(requests)]


def test_sampling_reproducible_and_resumable(server):
    backend = OpenAIBackend(NAME, server)
    request = GenerateRequest("Once upon a time", (), 12, temperature=1.0, top_p=0.9, n=4, seed=3)
    first = backend.generate([request])[0].texts
    assert len(first) == 4 and len(set(first)) > 1
    assert backend.generate([request])[0].texts == first
    assert backend.generate([request], first_sample={request: 3})[0].texts == first[3:]


def test_scoring_and_rolling_match_in_process_at_edges(server, engine):
    """Whitespace moved to the continuation, an empty context, byte-fallback characters at the split."""
    requests = [LoglikelihoodRequest("Once upon a time ", "there was"), LoglikelihoodRequest("", "Hello world"),
                LoglikelihoodRequest("Lily saw 日本", "日 the dog\n\n"), LoglikelihoodRequest("Tom and", " Lily")]
    rolling = [RollingLoglikelihoodRequest(STORY), RollingLoglikelihoodRequest(" x")]
    backend = OpenAIBackend(NAME, server)
    for got, want in zip(answer(backend, requests + rolling), answer(engine, requests + rolling)):
        assert got.num_tokens == want.num_tokens
        assert got.loglikelihood == pytest.approx(want.loglikelihood, abs=1e-4)
        assert getattr(got, "is_greedy", None) == getattr(want, "is_greedy", None)


def test_prompts_longer_than_the_window_scored_as_in_process(server, engine, stories):
    """The engine keeps max_length + 1 tokens of a long request (it forwards max_length); the server holds
    as many for scoring (`max_scored_tokens`), so the backend gets the same sums: before, it kept one token
    less and MMLU on stories260K differed by up to 0.106 nat on its prompts longer than 512 tokens."""
    words = STORY.split(" ")
    contexts = [" ".join((words * 40)[:size]) for size in range(322, 332)] + [STORY * 30]
    lengths = {len(stories.tokenizer.encode(c + " She", bos=True)) for c in contexts}
    assert {engine.max_length, engine.max_length + 1} <= lengths and max(lengths) > 1000
    requests = [LoglikelihoodRequest(c, ending) for c in contexts for ending in (" She", " the park.")]
    backend = OpenAIBackend(NAME, server)
    for got, want in zip(backend.loglikelihood(requests), engine.loglikelihood(requests)):
        assert got.num_tokens == want.num_tokens and got.is_greedy == want.is_greedy
        assert got.loglikelihood == pytest.approx(want.loglikelihood, abs=1e-4)
    assert backend.scored_length == engine.max_length + 1


def test_beyond_the_window_is_an_error_not_a_shorter_sum(server):
    backend = OpenAIBackend(NAME, server)
    with pytest.raises(EvalkitError, match="does not fit the window"):
        backend.loglikelihood([LoglikelihoodRequest("Once", " " + STORY * 12)])
    with pytest.raises(EvalkitError, match="must fit the server's window"):
        backend.loglikelihood_rolling([RollingLoglikelihoodRequest(STORY * 12)])


def test_faults_retried_counted_and_results_identical(server):
    task = get_task("hellaswag")
    docs = task.docs(DataSource(data_dir=DATA_DIR), 5)
    requests = [r for i, doc in enumerate(docs) for r in task.requests(doc, i, 1234)]
    requests += [GenerateRequest("Once upon a time", (), 20), GenerateRequest("Lily", (".",), 20),
                 RollingLoglikelihoodRequest(STORY)]
    clean = answer(OpenAIBackend(NAME, server), requests)
    proxy = FaultProxy(server, "faults", stall_s=4.0)
    try:
        flaky = OpenAIBackend(NAME, proxy.base_url, concurrency=4,
                              retry=RetryPolicy(max_retries=3, timeout_s=3.0, base_delay_s=0.01))
        got = answer(flaky, requests)
    finally:
        proxy.close()
    for a, b in zip(got, clean):
        assert type(a) is type(b)
        if isinstance(b, GenerateResult):
            assert a == b
        else:
            assert a.num_tokens == b.num_tokens and a.loglikelihood == pytest.approx(b.loglikelihood, abs=1e-6)
    injected = proxy.injected
    assert all(injected[kind] >= 1 for kind in ("429", "500", "timeout", "truncated")), injected
    stats = flaky.stats
    assert stats.retries == sum(injected.values())
    assert (stats.rate_limited, stats.server_errors, stats.timeouts, stats.malformed_responses) == \
        (injected["429"], injected["500"], injected["timeout"], injected["truncated"])
    assert stats.http_requests == stats.retries + len(proxy.seen)


def test_server_without_prompt_logprobs_is_a_clear_error(server):
    proxy = FaultProxy(server, "no_logprobs")
    try:
        backend = OpenAIBackend(NAME, proxy.base_url)
        with pytest.raises(EvalkitError, match="scoring tasks need prompt log-probabilities"):
            backend.loglikelihood([LoglikelihoodRequest("Once upon a time", " there")])
        assert backend.stats.retries == 0  # a server that cannot is not asked again
        assert backend.generate([GenerateRequest("Once", (), 5)])[0].texts[0]  # generation needs no logprobs
    finally:
        proxy.close()


def test_retries_exhausted_is_one_clear_line(server):
    proxy = FaultProxy(server, "always_503")
    try:
        with pytest.raises(EvalkitError) as error:
            OpenAIBackend(NAME, proxy.base_url, retry=RetryPolicy(max_retries=2, base_delay_s=0.01))
    finally:
        proxy.close()
    message = str(error.value)
    assert "no valid answer after 3 attempts" in message and "HTTP 503" in message and "rerun" in message
    assert "\n" not in message


def test_load_checks_its_flags_before_any_request(monkeypatch):
    with pytest.raises(EvalkitError, match="--base-url"):
        load(BackendOptions(model=NAME))
    monkeypatch.delenv("EVALKIT_TEST_KEY", raising=False)
    with pytest.raises(EvalkitError, match="EVALKIT_TEST_KEY"):
        load(BackendOptions(model=NAME, base_url="http://127.0.0.1:9/v1", api_key_env="EVALKIT_TEST_KEY"))


def test_unknown_model_names_what_is_served(server):
    with pytest.raises(EvalkitError, match="served: stories260K"):
        OpenAIBackend("llama-7b", server)


def choice(tokens, values, offsets):
    return {"logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets,
                         "top_logprobs": [None if v is None else {"x": max(v, -1.0)} for v in values]}}


def test_split_at_the_context_length_by_text_offset():
    # "ab|cd": a token running past the split ("bc") belongs to the continuation, as do zero-width byte
    # pieces that begin at it; BOS ("" at 0, no log-probability) is only the condition
    text = "abcd"
    straddle = choice(["", "a", "bc", "d"], [None, -0.5, -2.0, -0.25], [0, 0, 1, 3])
    assert _split_score(straddle, text, 2, None) == (-2.25, 2, False)
    bytes_ = choice(["", "ab", "", "cd"], [None, -0.5, -2.0, -0.25], [0, 0, 2, 2])
    assert _split_score(bytes_, text, 2, None) == (-2.25, 2, False)
    assert _split_score(bytes_, text, 0, None) == (-2.75, 3, False)
    no_bos = choice(["ab", "cd"], [None, -1.0], [0, 2])
    with pytest.raises(EvalkitError, match="adds no BOS"):
        _split_score(no_bos, text, 0, None)
    assert _split_score(no_bos, text, 2, None) == (-1.0, 1, True)
