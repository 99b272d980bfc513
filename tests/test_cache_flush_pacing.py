"""The response cache is written at least about every 30 s, however slow the model (a kill -9 loses at most
the chunk in flight): chunks are sized by the time the last one took (evalkit.serving.dispatch.Pacer), not by
a fixed 512 rows, and a fast model still gets full chunks."""
import evalkit.serving.dispatch as dispatch_module
from evalkit.requests import GenerateRequest, LoglikelihoodRequest
from evalkit.serving.dispatch import FIRST_ROWS, FLUSH_S, Pacer, dispatch
from evalkit.serving.response_cache import ResponseCache


def test_pacer_sizes_each_chunk_to_about_the_flush_interval():
    assert FLUSH_S <= 30 / 1.5  # a chunk half again as slow as measured still lands within 30 s
    pacer = Pacer(most=512)
    scoring, generation = LoglikelihoodRequest, GenerateRequest
    assert pacer.size(scoring) == pacer.size(generation) == FIRST_ROWS  # speed unknown: one small batch
    pacer.measured(generation, rows=16, seconds=40.0)  # a slow model: 0.4 rows/s
    assert pacer.size(generation) == int(0.4 * FLUSH_S)
    pacer.measured(generation, rows=1, seconds=300.0)
    assert pacer.size(generation) == 1  # never 0
    pacer.measured(scoring, rows=16, seconds=0.01)  # a fast one gets the full chunk
    assert pacer.size(scoring) == 512 and pacer.size(generation) == 1  # each request type on its own speed


def test_a_slow_run_writes_the_cache_chunk_after_chunk(stories, tmp_path, monkeypatch):
    """With the flush interval shortened to a few ms, 300 requests on stories260K are stored in many
    chunks, the first of FIRST_ROWS rows (before: one write at the end of the first 512 rows, so a
    kill before it lost everything), with the same answers as without a cache."""
    from evalkit.backends.llama import LlamaBackend
    monkeypatch.setattr(dispatch_module, "FLUSH_S", 0.005, raising=False)
    backend = LlamaBackend(stories, deterministic=True)
    requests = [LoglikelihoodRequest(f"Once upon a time, a dog {i}.", " The end.") for i in range(300)]
    cache = ResponseCache(tmp_path / "cache.sqlite", backend.fingerprint)
    writes: list[int] = []
    put = cache.put
    monkeypatch.setattr(cache, "put", lambda pairs: (writes.append(len(pairs)), put(pairs))[1])
    results = dispatch(backend, requests, cache, progress=False)
    assert writes[0] == FIRST_ROWS and len(writes) >= 3 and sum(writes) == len(requests), writes
    assert len(cache) == len(requests)
    plain = dispatch(backend, requests, None, progress=False)
    assert all(abs(a.loglikelihood - b.loglikelihood) < 1e-4 for a, b in zip(results, plain))
