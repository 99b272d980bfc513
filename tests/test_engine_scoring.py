"""Engine.loglikelihood: exactness against a direct forward, batch-size invariance, sharing, truncation."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from conftest import REPO, STORIES_BIN, STORIES_DIR, needs_stories
from evalkit.engine import Engine
from evalkit.engine.encoding import encode_pair
from evalkit.errors import DataError
from evalkit.model.llama import Transformer
from evalkit.requests import LoglikelihoodRequest

STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
         "One day, she saw a big, red ball. She wanted to play with it, but it was too high. ")
ENDINGS = [" She was sad.", " Her mom helped her.", " The ball flew away into the sky and never came back.",
           " Lily smiled.", " The dog barked loudly at the tree."]


@torch.inference_mode()
def direct_loglikelihood(model: Transformer, context: list[int], continuation: list[int]) -> tuple[float, bool]:
    """One plain full forward of context + continuation, no cache, no padding."""
    ids = torch.tensor([context + continuation])
    logprobs = model(ids[:, :-1])[0].log_softmax(-1)[len(context) - 1:]  # (len(continuation), vocab)
    target = torch.tensor(continuation)
    picked = logprobs.gather(1, target[:, None])[:, 0]
    return float(picked.double().sum()), bool((logprobs.argmax(-1) == target).all())


def workload() -> list[LoglikelihoodRequest]:
    """Multiple-choice shaped: 8 contexts of different lengths, 2-5 endings each, plus repeats."""
    words = STORY.split(" ")
    requests = []
    for i in range(8):
        context = " ".join(words[:6 + 5 * i]) + ("" if i % 3 else " ")  # some with a trailing space
        requests += [LoglikelihoodRequest(context, ending) for ending in ENDINGS[:2 + i % 4]]
    requests.append(LoglikelihoodRequest("", "Lily and the ball."))
    return requests + requests[:3]  # duplicates


@pytest.fixture(scope="module")
def reference(stories):
    return Engine(stories, batch_size=1, deterministic=True).loglikelihood(workload())


@pytest.mark.parametrize("batch_size", [1, 8, 32, "auto"])
def test_batch_size_invariance(stories, reference, batch_size):
    results = Engine(stories, batch_size=batch_size).loglikelihood(workload())
    assert [r.num_tokens for r in results] == [r.num_tokens for r in reference]
    assert [r.is_greedy for r in results] == [r.is_greedy for r in reference]
    for got, want in zip(results, reference):
        assert got.loglikelihood == pytest.approx(want.loglikelihood, abs=1e-4)


def test_shared_context_equals_alone_and_direct_forward(stories):
    requests = workload()
    engine = Engine(stories, batch_size=32)
    together = engine.loglikelihood(requests)
    assert engine.stats.contexts_reused > 0  # the sharing path ran
    for request, result in zip(requests, together):
        alone = Engine(stories, batch_size=1).loglikelihood([request])[0]
        context, continuation = encode_pair(stories.tokenizer, request.context, request.continuation)
        direct, greedy = direct_loglikelihood(stories.model, context, continuation)
        assert result.loglikelihood == pytest.approx(alone.loglikelihood, abs=1e-4)
        assert result.loglikelihood == pytest.approx(direct, abs=1e-4)
        assert (result.is_greedy, result.num_tokens) == (greedy, len(continuation))


def test_duplicates_and_shared_contexts_forward_fewer_tokens(stories):
    requests = workload()
    engine = Engine(stories, batch_size=32)
    engine.loglikelihood(requests)
    distinct = list(dict.fromkeys(requests))
    naive = sum(len(c) + len(k) - 1 for c, k in (encode_pair(stories.tokenizer, r.context, r.continuation)
                                                 for r in requests))
    assert engine.stats.requests_served == len(requests)
    assert engine.stats.requests_computed == len(distinct)
    assert engine.stats.tokens_forwarded < naive / 2


def test_trailing_space_moves_to_continuation(stories):
    tok = stories.tokenizer
    context, continuation = encode_pair(tok, "The cat ", "sat")
    assert context == tok.encode("The cat", bos=True)
    assert context + continuation == tok.encode("The cat sat", bos=True)
    assert encode_pair(tok, "", "The cat") == ([tok.bos_id], tok.encode("The cat"))


def test_context_is_cut_from_the_left(stories):
    request = LoglikelihoodRequest(STORY, " She was sad.")
    context, continuation = encode_pair(stories.tokenizer, request.context, request.continuation)
    max_length = 20
    result = Engine(stories, max_length=max_length).loglikelihood([request])[0]
    kept = context[-(max_length + 1 - len(continuation)):]
    direct, _ = direct_loglikelihood(stories.model, kept, continuation)
    assert len(kept) + len(continuation) - 1 == max_length
    assert result.num_tokens == len(continuation)
    assert result.loglikelihood == pytest.approx(direct, abs=1e-4)
    uncut = Engine(stories).loglikelihood([request])[0]
    assert abs(uncut.loglikelihood - result.loglikelihood) > 1e-3  # the cut changed the condition


@needs_stories
def test_score_command_matches_reference_sentences(tmp_path):
    reference = json.loads((STORIES_DIR / "reference_outputs.json").read_text())["sentence_logliks"]
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"context": "", "continuation": s["text"]}) + "\n" for s in reference))
    out = subprocess.run([sys.executable, str(REPO / "run_eval.py"), "score", "--model", str(STORIES_BIN),
                          "--requests", str(requests)], capture_output=True, text=True, check=True, cwd=REPO)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == len(reference)
    for line, want in zip(lines, reference):
        assert line["num_tokens"] == want["n_predicted_tokens"]
        assert line["loglikelihood"] == pytest.approx(want["sum_loglik"], abs=1e-4)
        assert line["loglikelihood"] / line["num_tokens"] == pytest.approx(want["mean_token_loglik"], abs=1e-5)


@pytest.mark.parametrize("line, message", [
    ('{"context": "a"}', "2: missing field 'continuation'"),
    ('{"context": 3, "continuation": "b"}', "2: field 'context' is 3, expected str"),
    ('{"context": "a", ', "2: invalid JSON"),
    ('["a", "b"]', "2: expected a JSON object"),
])
def test_malformed_requests_file_names_line_and_field(tmp_path, line, message):
    from evalkit.commands.score import read_requests
    path = tmp_path / "requests.jsonl"
    path.write_text('{"context": "x", "continuation": "y"}\n' + line + "\n")
    with pytest.raises(DataError, match=f"{path.name}:{message}".replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        read_requests(path)


def test_row_sums_add_each_requests_positions_without_atomics():
    """The GPU's sum per request (index_add_ there adds with atomics, in a varying order): the same totals
    as the CPU's sequential sum, owners kept apart, an empty batch summing to zero."""
    from evalkit.engine.scoring import row_sums
    g = torch.Generator().manual_seed(0)
    values = -torch.rand(40, generator=g, dtype=torch.float64) * 10
    owners = [0] * 7 + [1] * 20 + [2] * 13
    sums = row_sums(values, owners, 3)
    sequential = torch.zeros(3, dtype=torch.float64).index_add_(0, torch.tensor(owners), values)
    assert torch.allclose(sums, sequential, rtol=0, atol=1e-12)
    assert row_sums(values, [2 - o for o in owners], 3).tolist() == sums.flip(0).tolist()
    assert row_sums(values[:0], [], 2).tolist() == [0.0, 0.0]
