"""Scoring through `serve` vs in process: 8 concurrent clients on a HellaSwag-shaped load.

The server (evalkit/serving/openai_server.py, on uvicorn in a separate process) and the in-process
engine hold the same model: the "small" preset's size (dim 512, 8 layers) with seeded random weights
and the vocabulary of evalkit's bundled SentencePiece tokenizer (text must go through a real tokenizer
for the server's text offsets). The load is real HellaSwag: the first N validation questions from
--data-dir (4 endings each, the task's own requests), else generated text of the same shape. Each of
the 8 clients is an `openai` backend scoring its share of the questions (16 prompts per HTTP request,
one request in flight per client); the server batches what arrives together. In process: one
Engine.loglikelihood call over everything. Tokens/s counts BOS + context + ending of every request,
the same number on both sides. Target: served >= 0.8x in-process tokens/s, identical predictions.

    .venv/bin/python benchmarks/serve_throughput.py --questions 16 --repeats 2
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evalkit.backends.openai import OpenAIBackend  # noqa: E402
from evalkit.engine import Engine  # noqa: E402
from evalkit.model.config import preset  # noqa: E402
from evalkit.model.loaders import LoadedModel, build_model  # noqa: E402
from evalkit.model.loaders.tiny import TOKENIZER, random_state_dict  # noqa: E402
from evalkit.requests import LoglikelihoodRequest  # noqa: E402
from evalkit.tokenizer import Tokenizer  # noqa: E402

CLIENTS = 8
NAME = "small-random"
WORDS = "the a man woman dog ball park runs jumps then quickly slowly into over and with his her".split()


def load_model() -> LoadedModel:
    tokenizer = Tokenizer(TOKENIZER)
    cfg = preset("small").with_(vocab_size=tokenizer.vocab_size)
    return LoadedModel(build_model(cfg, random_state_dict(cfg, seed=0), "small", None, "cpu"), tokenizer,
                       NAME, "random", f"{NAME}-0")


def workload(questions: int, data_dir: Path | None) -> list[list[LoglikelihoodRequest]]:
    """HellaSwag's own requests when its file is there; else random words in its shape (~60-word
    contexts, 4 endings of ~20 words)."""
    if data_dir is not None and (data_dir / "hellaswag").is_dir():
        from evalkit.task import DataSource
        from tasks import get_task
        task = get_task("hellaswag")
        return [task.requests(doc, i, 1234) for i, doc in enumerate(task.docs(DataSource(data_dir=data_dir),
                                                                              questions))]
    rng = random.Random(0)
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
    return [[LoglikelihoodRequest(words(rng.randint(40, 80)), " " + words(rng.randint(12, 28))) for _ in range(4)]
            for _ in range(questions)]


def run_server(port: int, threads: int) -> None:
    """The server process: the same model behind evalkit's ASGI app."""
    import uvicorn

    from evalkit.serving.openai_server import create_app
    torch.set_num_threads(threads)
    uvicorn.run(create_app(Engine(load_model()), NAME), host="127.0.0.1", port=port, log_level="warning")


def start_server(threads: int) -> tuple[multiprocessing.Process, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = multiprocessing.get_context("spawn").Process(target=run_server, args=(port, threads), daemon=True)
    process.start()
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/models", timeout=1).ok:
                return process, base_url
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def served(base_url: str, docs: list[list[LoglikelihoodRequest]]) -> tuple[list[float], float]:
    """8 clients, each scoring every 8th question; -> log-likelihoods in request order, seconds."""
    clients = [OpenAIBackend(NAME, base_url, concurrency=1) for _ in range(CLIENTS)]
    shares = [[r for doc in docs[i::CLIENTS] for r in doc] for i in range(CLIENTS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda c_s: c_s[0].loglikelihood(c_s[1]), zip(clients, shares)))
    seconds = time.perf_counter() - start
    found = {r: a.loglikelihood for share, got in zip(shares, answers) for r, a in zip(share, got)}
    return [found[r] for doc in docs for r in doc], seconds


def predictions(docs: list[list[LoglikelihoodRequest]], values: list[float]) -> list[int]:
    it = iter(values)
    rows = [[next(it) for _ in doc] for doc in docs]
    return [max(range(len(row)), key=row.__getitem__) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16, help="16 fits 2 shared CPU cores in ~2 min")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds of each side, alternating (best kept)")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on each side (default 1: on a small "
                                                                "shared machine, spinning threads distort timings)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    docs = workload(args.questions, args.data_dir)
    requests_ = [r for doc in docs for r in doc]

    engine = Engine(load_model())
    tokens = sum(len(engine.tokenizer.encode(r.context + r.continuation, bos=True)) for r in requests_)
    process, base_url = start_server(args.threads)
    local_times, remote_times = [], []
    try:
        served(base_url, docs[:CLIENTS])  # warm up both sides: first calls allocate
        engine.loglikelihood(requests_[:8])
        for _ in range(args.repeats):  # alternate, keep the best of each: the machine's load varies
            start = time.perf_counter()
            local = [r.loglikelihood for r in engine.loglikelihood(requests_)]
            local_times.append(time.perf_counter() - start)
            remote, seconds = served(base_url, docs)
            remote_times.append(seconds)
        stats = requests.get(base_url.removesuffix("/v1") + "/stats", timeout=10).json()
    finally:
        process.terminate()
        process.join()
    local_s, remote_s = min(local_times), min(remote_times)

    worst = max(abs(a - b) for a, b in zip(local, remote))
    same = predictions(docs, local) == predictions(docs, remote)
    print(f"HellaSwag-shaped: {len(docs)} questions x 4 endings, {tokens:,} tokens, small-size model "
          f"(vocab {engine.tokenizer.vocab_size}), {args.threads} thread(s) per side, {CLIENTS} clients")
    print(f"  best of {args.repeats} alternating rounds")
    print(f"  in process   {local_s:8.2f}s  {tokens / local_s:10,.0f} tokens/s")
    print(f"  through serve{remote_s:8.2f}s  {tokens / remote_s:10,.0f} tokens/s   "
          f"({stats['batches']} worker batches in all)")
    print(f"  ratio served/in-process: {local_s / remote_s:.2f}x (target >= 0.8x); identical predictions: {same}; "
          f"max |loglik diff| {worst:.1e}")


if __name__ == "__main__":
    main()
