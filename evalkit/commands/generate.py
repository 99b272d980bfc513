"""The `generate` command: continue one prompt (greedy unless --temperature), print the continuation."""
from __future__ import annotations

import sys

from evalkit.errors import UsageError
from evalkit.requests import GenerateRequest


def add_model_arguments(parser) -> None:
    """Flags shared by the commands that run the engine directly."""
    parser.add_argument("--model", default="tiny", help="tiny, a llama2.c .bin, a Meta or HF folder, or a Hub id")
    parser.add_argument("--batch-size", default="auto", help="sequences per forward, or 'auto'")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: as stored)")


def load_engine(args):
    from evalkit.engine import Engine
    from evalkit.model.loaders import load_model
    from evalkit.preflight import check_device

    batch_size = args.batch_size
    if batch_size != "auto":
        try:
            batch_size = int(batch_size)
        except ValueError:
            raise UsageError(f"--batch-size must be a positive integer or 'auto', not {batch_size!r}") from None
    check_device(args.device)
    return Engine(load_model(args.model, args.device, args.dtype), batch_size=batch_size)


def add_parser(sub):
    parser = sub.add_parser("generate", help="continue a prompt with the model")
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until", nargs="*", default=[], help="stop sequences (cut from the output)")
    parser.set_defaults(handler=_handler)


def _handler(args):
    if args.max_new_tokens < 0 or args.temperature < 0 or not 0 < args.top_p <= 1:
        raise UsageError("need --max-new-tokens >= 0, --temperature >= 0 and 0 < --top-p <= 1")
    from evalkit.window import generation_budget
    request = GenerateRequest(args.prompt, tuple(args.until), args.max_new_tokens, args.temperature,
                              args.top_p, 1, args.seed)
    engine = load_engine(args)
    budget = generation_budget(len(engine.tokenizer.encode(args.prompt, bos=True)), args.max_new_tokens,
                               engine.max_length)
    if budget.cut or budget.capped:
        print(f"note: the model's window is {engine.max_length} tokens: the prompt ({budget.prompt_tokens} tokens"
              f"{f', cut to its last {budget.kept_tokens}' if budget.cut else ''}) leaves room for "
              f"{budget.new_tokens} new tokens, not {args.max_new_tokens}", file=sys.stderr)
    print(engine.generate([request])[0].texts[0])
