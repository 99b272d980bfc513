"""The `serve` command: evalkit's engine as an OpenAI-compatible completions server (evalkit/serving).

It serves the bundled LLaMA engine (the llama backend): echoing a prompt's per-token log-probabilities
needs the engine itself, not only the Backend interface. Loopback by default: the server runs whatever
any client asks of the model, so exposing it on a network is a choice made with --host.
"""
from __future__ import annotations

import sys
from pathlib import Path

from evalkit.backends import DTYPES, parse_batch_size
from evalkit.dtype_names import dtype_name
from evalkit.backends.base import BackendOptions
from evalkit.errors import UsageError
from evalkit.preflight import check_device


def add_parser(sub) -> None:
    parser = sub.add_parser("serve", help="serve the model over HTTP as an OpenAI-compatible completions API")
    parser.add_argument("--model", default="tiny", help="tiny | llama2.c .bin | Meta folder | HF folder or Hub id")
    parser.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda or cuda:N")
    parser.add_argument("--dtype", type=dtype_name, choices=DTYPES, help="default: as stored; auto: bfloat16 where "
                                                                         "the hardware runs it fast, else float32")
    parser.add_argument("--batch-size", default="auto", help="an integer or 'auto'")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    parser.add_argument("--served-model-name", help="the model name clients send (default: --model's file stem)")
    parser.set_defaults(handler=_handler)


def _handler(args) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: expected 1-65535, got {args.port}")
    batch_size = parse_batch_size(args.batch_size)
    check_device(args.device)
    try:
        import uvicorn

        from evalkit.serving.openai_server import create_app
    except ImportError as error:
        raise UsageError(f"serve needs the optional extra 'serve' ({error.name} is missing): "
                         "pip install 'evalkit[serve]'") from None
    from evalkit.backends import llama
    engine = llama.load(BackendOptions(model=args.model, device=args.device, dtype=args.dtype,
                                       batch_size=batch_size)).engine
    name = args.served_model_name or Path(args.model.rstrip("/")).stem
    print(f"serving {name!r} (window {engine.max_length} tokens) at http://{args.host}:{args.port}/v1",
          file=sys.stderr, flush=True)
    uvicorn.run(create_app(engine, name), host=args.host, port=args.port, log_level="warning")
    return 0
