"""Backends: every model source behind one interface (base.py), chosen with `--backend`.

To add one, add a line to BACKENDS ("name": "module"); the module exposes `load(options) -> Backend`
and is imported only when asked for. `run`, `score` and `generate` share the backend flags (evalkit/run_options.py).
"""
from __future__ import annotations

import importlib

from evalkit.backends.base import Backend, BackendOptions
from evalkit.dtype_names import DTYPES  # noqa: F401 - serve's --dtype choices
from evalkit.errors import UsageError
from evalkit.run_options import add_backend_arguments  # noqa: F401 - the backend flags, declared with the run's

BACKENDS = {
    "llama": "evalkit.backends.llama",              # the bundled LLaMA and its engine (default)
    "hf": "evalkit.backends.hf",                    # transformers causal LMs (extra evalkit[hf])
    "openai": "evalkit.backends.openai",            # an OpenAI-compatible completions server
    "generations": "evalkit.backends.generations",  # answers from a generations file
}


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
    if name not in BACKENDS:
        raise UsageError(f"--backend {name}: not one of {', '.join(BACKENDS)}")
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
