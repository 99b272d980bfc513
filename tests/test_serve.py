"""`run_eval.py serve` on stories260K: OpenAI response shapes, reproducible sampling, batching of concurrent
clients, and bad input answered with 400 naming the field while other clients are served normally."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import STORIES_BIN
from evalkit.engine import Engine
from evalkit.requests import GenerateRequest
from serve_process import serving

NAME = "stories260K"
LONG = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " * 10


@pytest.fixture(scope="module")
def server():
    with serving(STORIES_BIN) as base_url:
        yield base_url


def post(server: str, body, timeout: float = 60.0) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else None
    return requests.post(server + "/completions", data=data, json=None if data is not None else body,
                         headers={"Content-Type": "application/json"}, timeout=timeout)


def completion(server: str, **fields) -> dict:
    response = post(server, {"model": NAME, **fields})
    assert response.status_code == 200, response.text
    return response.json()


BAD = [  # (body, status, the field the error names)
    (b'{"model": "stories260K", "prompt": ', 400, "body"),
    (b"\xff\xfe not utf-8", 400, "body"),
    ([1, 2], 400, None),
    ({"model": NAME}, 400, "prompt"),
    ({"model": NAME, "prompt": 17}, 400, "prompt"),
    ({"model": NAME, "prompt": []}, 400, "prompt"),
    ({"model": NAME, "prompt": ["a", None]}, 400, "prompt"),
    ({"model": NAME, "prompt": "Hi", "max_tokens": "ten"}, 400, "max_tokens"),
    ({"model": NAME, "prompt": "Hi", "max_tokens": -1}, 400, "max_tokens"),
    ({"model": NAME, "prompt": "Hi", "max_tokens": 100000}, 400, "max_tokens"),
    ({"model": NAME, "prompt": "Hi", "n": 0}, 400, "n"),
    ({"model": NAME, "prompt": "Hi", "n": 100000}, 400, "n"),
    ({"model": NAME, "prompt": "Hi", "n": True}, 400, "n"),
    ({"model": NAME, "prompt": "Hi", "temperature": -0.5}, 400, "temperature"),
    ({"model": NAME, "prompt": "Hi", "top_p": 0}, 400, "top_p"),
    ({"model": NAME, "prompt": "Hi", "stop": 5}, 400, "stop"),
    ({"model": NAME, "prompt": "Hi", "seed": "x"}, 400, "seed"),
    ({"model": NAME, "prompt": "Hi", "echo": "yes"}, 400, "echo"),
    ({"model": NAME, "prompt": "Hi", "logprobs": 99, "max_tokens": 0}, 400, "logprobs"),
    ({"model": NAME, "prompt": "Hi", "logprobs": 1, "max_tokens": 5}, 400, "logprobs"),
    ({"model": NAME, "prompt": LONG * 3, "max_tokens": 0, "echo": True, "logprobs": 1}, 400, "prompt"),
    ({"model": NAME, "prompt": LONG * 3, "max_tokens": 4}, 400, "prompt"),
    ({"model": NAME, "prompt": "", "max_tokens": 0, "echo": True, "logprobs": 1}, 400, "prompt"),
    ({"model": NAME, "prompt": ["Hi", ""], "max_tokens": 0, "echo": True, "logprobs": 1}, 400, "prompt"),
    ({"model": NAME, "prompt": "Hi", "max_tokens": 0, "echo": True, "logprobs": 1, "truncate_prompt_tokens": 1},
     400, "truncate_prompt_tokens"),
    ({"model": NAME, "prompt": "Hi", "truncate_prompt_tokens": 0}, 400, "truncate_prompt_tokens"),
    ({"model": NAME, "prompt": "Hi", "truncate_prompt_tokens": 513}, 400, "truncate_prompt_tokens"),
    ({"model": NAME, "prompt": LONG * 3, "max_tokens": 0, "echo": True, "logprobs": 1, "truncate_prompt_tokens": 514},
     400, "truncate_prompt_tokens"),
    ({"model": NAME, "prompt": "Hi", "best_of": 3}, 400, "best_of"),
    ({"model": NAME, "prompt": "Hi", "stream": True}, 400, "stream"),
    ({"model": NAME, "prompt": "Hi", "frobnicate": 1}, 400, "frobnicate"),
    ({"model": "gpt-4", "prompt": "Hi"}, 404, "model"),
]


def test_bad_input_is_400_naming_the_field_while_another_client_is_served(server):
    good_score = {"prompt": ["Once upon a time", "Lily and Tom"], "max_tokens": 0, "echo": True, "logprobs": 1}
    good_generate = {"prompt": "Once upon a time", "max_tokens": 16, "temperature": 0}
    expected = (completion(server, **good_score)["choices"], completion(server, **good_generate)["choices"])
    stop, outcomes = threading.Event(), []

    def other_client():
        while not stop.is_set():
            outcomes.append((completion(server, **good_score)["choices"],
                             completion(server, **good_generate)["choices"]))

    thread = threading.Thread(target=other_client)
    thread.start()
    try:
        for body, status, field in BAD:
            response = post(server, body)
            assert response.status_code == status, (body, response.text)
            error = response.json()["error"]
            assert error["param"] == field and error["message"], (body, error)
    finally:
        stop.set()
        thread.join()
    assert outcomes and all(o[0] == expected[0] and o[1] == expected[1] for o in outcomes)
    assert completion(server, **good_generate)["choices"] == expected[1]


def test_openai_shapes(server):
    scored = completion(server, prompt=["Once upon a time", "Tom"], max_tokens=0, echo=True, logprobs=2)
    assert scored["object"] == "text_completion" and scored["model"] == NAME
    first, short = scored["choices"]
    assert (first["index"], first["text"], short["index"], short["text"]) == (0, "Once upon a time", 1, "Tom")
    block = first["logprobs"]
    assert len(block["tokens"]) == len(block["token_logprobs"]) == len(block["top_logprobs"]) == \
        len(block["text_offset"])
    assert block["token_logprobs"][0] is None and block["top_logprobs"][0] is None  # BOS: nothing before it
    assert "".join(block["tokens"]) == "Once upon a time"
    assert [first["text"][o:o + len(t)] for t, o in zip(block["tokens"], block["text_offset"])] == block["tokens"]
    assert all(v < 0 and 1 <= len(top) <= 2 and max(top.values()) >= v
               for v, top in zip(block["token_logprobs"][1:], block["top_logprobs"][1:]))
    prompt_tokens = len(block["tokens"]) + len(short["logprobs"]["tokens"])
    assert scored["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": 0, "total_tokens": prompt_tokens}

    generated = completion(server, prompt=["Once upon a time", "Tom"], max_tokens=24, temperature=0, n=2,
                           stop=["."], echo=True)
    choices = generated["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    assert choices[0]["text"].startswith("Once upon a time") and choices[2]["text"].startswith("Tom")
    assert choices[0]["text"] == choices[1]["text"] and "." not in choices[0]["text"]
    assert all(c["finish_reason"] in ("stop", "length") for c in choices)
    assert generated["usage"]["completion_tokens"] > 0

    models = requests.get(server + "/models", timeout=10).json()["data"]
    assert models[0]["id"] == NAME and models[0]["max_model_len"] == 512 and models[0]["max_scored_tokens"] == 513
    longest = completion(server, prompt=LONG * 3, max_tokens=0, echo=True, logprobs=1, truncate_prompt_tokens=513)
    assert len(longest["choices"][0]["logprobs"]["tokens"]) == 513  # the model forwards 512 of them
    counted = requests.post(server.removesuffix("/v1") + "/tokenize", json={"prompt": "Once upon a time"}, timeout=10)
    assert counted.json()["count"] == len(block["tokens"])


def test_completion_tokens_are_the_tokens_generated(server, stories):
    """usage.completion_tokens is what the engine generated (it re-encoded the text: 17 for max_tokens 16)."""
    for prompt in ("Hi", "Once upon a time"):
        greedy = completion(server, prompt=prompt, max_tokens=16, temperature=0)
        assert greedy["choices"][0]["finish_reason"] == "length"
        assert greedy["usage"]["completion_tokens"] == 16
    sampled = completion(server, prompt="Once upon a time", max_tokens=16, temperature=1.0, n=4, seed=3)
    ends = [c["finish_reason"] for c in sampled["choices"]]
    full = ends.count("length")  # a sample stopped by EOS generated 1..16 tokens
    assert 16 * full + (4 - full) <= sampled["usage"]["completion_tokens"] <= 16 * 4
    stopped = completion(server, prompt="Once upon a time", max_tokens=40, temperature=0, stop=["."])
    assert stopped["choices"][0]["finish_reason"] == "stop" and stopped["usage"]["completion_tokens"] < 40
    engine = Engine(stories)
    engine.generate([GenerateRequest("Once upon a time", (), 16, 0.0, 1.0, 1, 0)])
    assert engine.stats.tokens_generated == 16


def test_sampling_reproducible_per_prompt_seed_and_index(server, stories):
    fields = dict(max_tokens=12, temperature=1.0, top_p=0.95, seed=7)
    three = [c["text"] for c in completion(server, prompt="Once upon a time", n=3, **fields)["choices"]]
    assert len(set(three)) > 1
    again = completion(server, prompt=["Lily", "Once upon a time"], n=3, **fields)["choices"]
    assert [c["text"] for c in again[3:]] == three  # the same whatever else is in the request
    one = completion(server, prompt="Once upon a time", n=1, **fields)["choices"]
    assert one[0]["text"] == three[0]
    in_process = Engine(stories).generate([GenerateRequest("Once upon a time", (), 12, 1.0, 0.95, 3, 7)])[0].texts
    assert list(in_process) == three


def test_concurrent_clients_are_batched(server):
    prompts = [f"{LONG[:300 + 7 * i]} and then" for i in range(16)]
    alone = [completion(server, prompt=p, max_tokens=0, echo=True, logprobs=1)["choices"][0] for p in prompts]
    before = requests.get(server.removesuffix("/v1") + "/stats", timeout=10).json()["batches"]
    barrier = threading.Barrier(len(prompts))

    def client(prompt):
        barrier.wait()
        return completion(server, prompt=prompt, max_tokens=0, echo=True, logprobs=1)["choices"][0]

    with ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(client, prompts))
    batches = requests.get(server.removesuffix("/v1") + "/stats", timeout=10).json()["batches"] - before
    assert batches < len(prompts)
    for a, b in zip(alone, together):
        assert b["logprobs"]["tokens"] == a["logprobs"]["tokens"]
        assert b["logprobs"]["token_logprobs"][1:] == pytest.approx(a["logprobs"]["token_logprobs"][1:], abs=1e-4)


@pytest.mark.parametrize("device", ["cuda:7", "tpu", "cpu:zero"])
def test_a_missing_device_is_refused_before_the_model_loads(device):
    import subprocess
    import sys

    from conftest import REPO
    done = subprocess.run([sys.executable, "run_eval.py", "serve", "--model", STORIES_BIN, "--device", device,
                           "--port", "8999"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].count("--device") == 1, done.stderr
