"""The `generate` command: continue one prompt (greedy unless --temperature), print the continuation."""
from __future__ import annotations

import sys

from evalkit.backends import add_backend_arguments, load_backend
from evalkit.errors import UsageError
from evalkit.requests import GenerateRequest


def add_parser(sub):
    parser = sub.add_parser("generate", help="continue a prompt with the model")
    add_backend_arguments(parser)
    parser.add_argument("--prompt", required=True, help="the text to continue")
    parser.add_argument("--max-new-tokens", type=int, default=256,
                        help="most new tokens; capped to the room the prompt leaves in the model's window")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling: smallest set of tokens "
                                                                 "with this total probability")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    parser.add_argument("--until", nargs="*", default=[], help="stop sequences (cut from the output)")
    parser.set_defaults(handler=_handler)


def _handler(args):
    if args.max_new_tokens < 0 or args.temperature < 0 or not 0 < args.top_p <= 1:
        raise UsageError("need --max-new-tokens >= 0, --temperature >= 0 and 0 < --top-p <= 1")
    request = GenerateRequest(args.prompt, tuple(args.until), args.max_new_tokens, args.temperature,
                              args.top_p, 1, args.seed)
    from evalkit.serving.distributed import finish, is_main_process
    backend = load_backend(args)
    if backend.max_length is not None and is_main_process():
        say_window(backend, args.prompt, args.max_new_tokens)
    text = backend.generate([request])[0].texts[0]  # under torchrun every rank computes (tensor parallel)
    if is_main_process():
        print(text)
    finish()


def say_window(backend, prompt: str, max_new_tokens: int) -> None:
    """A note on stderr when the window cuts the prompt or caps the new tokens (evalkit.window)."""
    from evalkit.window import generation_budget
    budget = generation_budget(backend.count_tokens(prompt), max_new_tokens, backend.max_length)
    if budget.cut or budget.capped:
        cut = f", cut to its last {budget.kept_tokens}" if budget.cut else ""
        print(f"note: the model's window is {backend.max_length} tokens: the prompt ({budget.prompt_tokens} tokens"
              f"{cut}) leaves room for {budget.new_tokens} new tokens, not {max_new_tokens}", file=sys.stderr)
