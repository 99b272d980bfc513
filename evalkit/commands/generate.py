"""The `generate` command: continue one prompt (greedy unless --temperature), print the continuation."""
from __future__ import annotations

from evalkit.backends import add_backend_arguments, load_backend
from evalkit.errors import UsageError
from evalkit.requests import GenerateRequest


def add_parser(sub):
    parser = sub.add_parser("generate", help="continue a prompt with the model")
    add_backend_arguments(parser)
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
    request = GenerateRequest(args.prompt, tuple(args.until), args.max_new_tokens, args.temperature,
                              args.top_p, 1, args.seed)
    print(load_backend(args).generate([request])[0].texts[0])
