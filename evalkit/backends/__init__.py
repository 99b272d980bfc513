"""Backends: every model source behind one interface (base.py), chosen with `--backend`.

To add one, add a line to BACKENDS ("name": "module"); the module exposes `load(options) -> Backend`
and is imported only when asked for. `run`, `score`, `generate` (and `serve`) share the flags below.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from evalkit.backends.base import Backend, BackendOptions
from evalkit.errors import UsageError

BACKENDS = {
    "llama": "evalkit.backends.llama",              # the bundled LLaMA and its engine (default)
    "hf": "evalkit.backends.hf",                    # transformers causal LMs (extra evalkit[hf])
    "openai": "evalkit.backends.openai",            # an OpenAI-compatible completions server
    "generations": "evalkit.backends.generations",  # answers from a generations file
}
DTYPES = ("float32", "bfloat16", "float16", "auto")  # auto: evalkit/model/auto_dtype.py


def add_backend_arguments(parser, generations: bool = False) -> None:
    """The backend flags; `generations` adds --load-generations (commands that run tasks)."""
    group = parser.add_argument_group("backend")
    group.add_argument("--backend", choices=list(BACKENDS),
                       help="model source (default: llama; generations when --load-generations is given)")
    group.add_argument("--model", help="llama, hf: tiny (embedded, random weights) | a llama2.c .bin or a folder "
                                       "holding one | Meta folder | HF folder or Hub id; openai: the server's "
                                       "model name. Required by run (unless --load-generations); generate and "
                                       "score default to tiny")
    group.add_argument("--device", default="cpu", help="llama, hf: cpu, cuda, cuda:N or mps")
    group.add_argument("--dtype", choices=DTYPES, help="llama, hf: default as stored; auto: bfloat16 where the "
                       "hardware runs it fast (AMX, AVX512-BF16, CUDA sm_80+), else float32")
    group.add_argument("--batch-size", default="auto", help="an integer or 'auto'")
    group.add_argument("--deterministic", action="store_true", help="unbatched, bit-identical scoring")
    group.add_argument("--tensor-parallel", type=int, default=1, metavar="T",
                       help="llama: split the model over T processes (heads and FFN columns, as Meta's shards); "
                            "launch with torchrun --nproc_per_node T x replicas")
    group.add_argument("--device-memory", metavar="SIZE", help="llama, hf with --batch-size auto: free device "
                       "memory the batches may spend, e.g. 20GB or 20GiB (default: asked of the CUDA device)")
    group.add_argument("--collective-timeout", type=float, metavar="MINUTES",
                       help="under a launcher: how long a rank waits for the others at a gather (default 180)")
    group.add_argument("--base-url", help="openai: the server's URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--api-key-env", metavar="VAR", help="openai: environment variable holding the API key")
    group.add_argument("--concurrency", type=int, default=4, help="openai: requests in flight at once")
    if generations:
        group.add_argument("--load-generations", type=Path, metavar="FILE",
                           help="answer generation requests from FILE (JSON lines task_id, completions) "
                                "instead of a model")


def parse_batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise UsageError(f"--batch-size: expected a positive integer or 'auto', got {value!r}")
    return size


def backend_name(args) -> str:
    """--backend, or what the flags imply: generations with --load-generations, else llama."""
    loads = getattr(args, "load_generations", None) is not None
    name = args.backend or ("generations" if loads else "llama")
    if loads and name != "generations":
        raise UsageError(f"--load-generations answers from a file; it cannot be combined with --backend {name}")
    return name


def options_from_args(args) -> BackendOptions:
    """The backend settings of a parsed command line, checked before anything is loaded."""
    from evalkit.model.memory_plan import parse_size
    from evalkit.preflight import check_device, check_launched_device
    from evalkit.serving.distributed import check_tensor_parallel, set_collective_timeout
    if args.concurrency < 1:
        raise UsageError(f"--concurrency: expected a positive integer, got {args.concurrency}")
    check_launched_device(args.device)
    check_device(args.device)
    check_tensor_parallel(args.tensor_parallel)
    if args.collective_timeout is not None:
        set_collective_timeout(args.collective_timeout)
    device_memory = parse_size(args.device_memory, "--device-memory") if args.device_memory else None
    if args.tensor_parallel > 1 and backend_name(args) != "llama":
        raise UsageError(f"--tensor-parallel applies to the llama backend, not --backend {backend_name(args)}")
    return BackendOptions(model=args.model, device=args.device, dtype=args.dtype,
                          batch_size=parse_batch_size(args.batch_size), deterministic=args.deterministic,
                          base_url=args.base_url, api_key_env=args.api_key_env, concurrency=args.concurrency,
                          generations=getattr(args, "load_generations", None), tensor_parallel=args.tensor_parallel,
                          device_memory=device_memory)


def load_backend(args) -> Backend:
    """The backend the command line asks for, loaded."""
    name = backend_name(args)
    options = options_from_args(args)
    module_name = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise UsageError(f"--backend {name}: not available in this installation ({module_name} is missing)") from None
    return module.load(options)
