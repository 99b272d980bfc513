"""The backend registry and flags, the llama backend over the engine, and the generations backend."""
import argparse
import json

import pytest

from evalkit.backends import BACKENDS, add_backend_arguments, load_backend
from evalkit.backends.base import Backend, run_context
from evalkit.backends.generations import GenerationsBackend
from evalkit.errors import DataError, UsageError
from evalkit.requests import GenerateRequest, GenerateResult, LoglikelihoodRequest
from evalkit.serving.dispatch import dispatch
from evalkit.serving.response_cache import ResponseCache

from conftest import STORIES_BIN, needs_stories


def parse(*argv, generations=True):
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser, generations=generations)
    return parser.parse_args(list(argv))


def write_generations(path, lines):
    path.write_text("".join(json.dumps({"task_id": k, "completions": v}) + "\n" for k, v in lines.items()))
    return path


@needs_stories
def test_llama_backend_keeps_the_engine_cache_key_and_describes_the_model():
    backend = load_backend(parse("--model", str(STORIES_BIN), "--batch-size", "4"))
    assert isinstance(backend, Backend) and backend.name == "llama"
    # the key rows of OUT/cache.sqlite were written under before backends existed: caches stay valid
    assert backend.fingerprint == f"{backend.loaded.fingerprint}:max_length=512:deterministic=False"
    described = backend.describe()
    assert described["backend"] == "llama" and described["format"] == "llama2c" and described["label"] == "stories260K"
    assert backend.count_tokens("Once upon a time") == len(backend.loaded.tokenizer.encode("Once upon a time", bos=True))
    context = run_context(backend)
    assert context.max_length == 512 and context.count_tokens("Lily") == backend.count_tokens("Lily")


def test_unavailable_backend_is_one_clear_usage_error(monkeypatch):
    monkeypatch.setitem(BACKENDS, "hf", "evalkit.backends.no_such_module")
    with pytest.raises(UsageError, match=r"--backend hf: not available .*evalkit.backends.no_such_module"):
        load_backend(parse("--backend", "hf"))


def test_flags_are_checked_before_loading(tmp_path):
    with pytest.raises(UsageError, match="--batch-size"):
        load_backend(parse("--batch-size", "0"))
    with pytest.raises(UsageError, match="--concurrency"):
        load_backend(parse("--concurrency", "0"))
    with pytest.raises(UsageError, match="cannot be combined with --backend llama"):
        load_backend(parse("--backend", "llama", "--load-generations", str(tmp_path / "g.jsonl")))
    with pytest.raises(UsageError, match="no such file"):
        load_backend(parse("--load-generations", str(tmp_path / "g.jsonl")))
    with pytest.raises(UsageError, match="needs --load-generations"):
        load_backend(parse("--backend", "generations"))


def test_generations_backend_deals_completions_over_each_documents_requests(tmp_path):
    path = write_generations(tmp_path / "g.jsonl", {"a": ["1", "2", "3"], "b": ["4", "5", "6"]})
    backend = load_backend(parse("--load-generations", str(path)))
    assert isinstance(backend, GenerationsBackend) and backend.describe()["format"] == "generations"
    first, second = GenerateRequest("Q: a", n=1, temperature=0.1), GenerateRequest("Q: a", n=2, temperature=0.8)
    other = GenerateRequest("Q: b", n=3)
    backend.expect("t", [("a", [first, second]), ("b", [other])], ["a", "b"])
    assert backend.generate([second, other, first]) == [GenerateResult(("2", "3")), GenerateResult(("4", "5", "6")),
                                                        GenerateResult(("1",))]
    assert backend.generate([other], first_sample={other: 2}) == [GenerateResult(("6",))]
    # through the dispatcher and the response cache, as the runner serves it
    cache = ResponseCache(tmp_path / "cache.sqlite", backend.fingerprint)
    assert dispatch(backend, [first, other], cache, progress=False) == [GenerateResult(("1",)),
                                                                        GenerateResult(("4", "5", "6"))]
    assert len(cache) == 4


def test_generations_backend_refuses_what_it_cannot_answer(tmp_path):
    backend = GenerationsBackend(write_generations(tmp_path / "g.jsonl", {"a": ["1", "2"]}))
    with pytest.raises(UsageError, match="t asks for LoglikelihoodRequests.*generation requests only"):
        backend.expect("t", [("a", [LoglikelihoodRequest("x", " y")])], ["a"])
    with pytest.raises(DataError, match="no completions for task_id 'b' \\(t\\)"):
        backend.expect("t", [("a", [GenerateRequest("x", n=2)]), ("b", [GenerateRequest("y")])], ["a", "b"])
    with pytest.raises(DataError, match="'a' has 2 completions; t asks for 4 \\(2 \\+ 2: .*--n-samples 1\\)"):
        backend.expect("t", [("a", [GenerateRequest("x", n=2), GenerateRequest("x", n=2, temperature=0.8)])], ["a"])
    with pytest.raises(UsageError, match="no announced document"):
        backend.generate([GenerateRequest("never announced")])
