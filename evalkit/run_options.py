"""The options of a run, declared once: each is a keyword of `evalkit.evaluate` and a flag of `run`, with
its default and help, whether it changes a number, and how a report row's label and the notes under its
table say it.

Everything else derives from OPTIONS: the `run` parser (evalkit/commands/run.py, and the backend flags
that `score` and `generate` share), the keywords `evaluate` accepts and their defaults (evalkit/api.py),
which options a task's results record as applied to it (results.json `protocol.<task>.options`), and the
row labels and notes (evalkit/report/run_settings.py, notes.py). An option that changes a number must say
how (`label` or `note`); tests/test_run_options.py fails otherwise, so a new option cannot be forgotten by
the label. This module imports nothing of evalkit's above it: the API and the commands read it.

An option reaches a task in one of three ways (`applies`):
- "run": the whole run (data, limit, dtype, backend, ...); recorded for every task it changed;
- "every": a protocol setting of every task (--num-fewshot); a task that cannot take it refuses the run;
- "some": a protocol setting of the tasks that have it (--max-new-tokens, --n-samples, ...); refused when
  no task asked for has it.
A task records a setting only where it differs from the task's own protocol, so a label names only what
applied to that task and departs from its protocol.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from evalkit.dtype_names import DTYPES, dtype_name
from evalkit.errors import UsageError
from evalkit.training_progress import token_count

Say = Callable[[Any, dict], "str | None"]  # (value, {"model": results.json model, "protocol": the task's}) -> text


@dataclass(frozen=True)
class Option:
    name: str                           # the keyword of evaluate(), the parsed flag's attribute, the recorded key
    flag: str
    help: str
    parse: Callable[[str], Any] | None = None  # the flag's text -> value (None: text; see `switch`)
    default: Any = None
    switch: bool = False                # a flag without a value (store_true)
    metavar: str | None = None
    choices: tuple | None = None
    group: str = "run"                  # "which": one of --tasks/--suite; "backend": also a flag of score, generate
    applies: str = "run"                # "run", "every", "some" (see the module docstring); None: never recorded
    setting: str | None = None          # the task protocol setting it sets ("every", "some")
    numbers: bool = False               # whether it changes a number
    label: Say | None = None            # how a row label says a recorded value
    note: Say | None = None             # how the notes under a table say it

    def parse_text(self, text: str) -> Any:
        """The flag's text as a value; a bad one is a UsageError naming the flag."""
        if self.parse is None:
            return text
        try:
            return self.parse(text)
        except UsageError as error:
            raise UsageError(f"{self.flag}: {error}") from None

    def add_to(self, parser) -> None:
        kwargs: dict[str, Any] = {"dest": self.name, "help": self.help}
        if self.switch:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(default=self.default, metavar=self.metavar, choices=self.choices)
            if self.parse is not None:
                kwargs["type"] = _argparse_type(self.parse)
        parser.add_argument(self.flag, **kwargs)


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse prints a type's ArgumentTypeError as is: one line naming the flag, exit 2."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _docs(value: int, about: dict) -> str:
    per = about["protocol"].get("limit_per")
    return f"first {value} docs" + (f" per {per}" if per else "")


def _dtype(value: str, about: dict) -> str:
    model = about["model"]
    if value == "auto":  # what auto chose on the machine that ran it, and why
        return f"{model.get('dtype')} via auto on {model.get('dtype_auto')}"
    return value


def _samples(value: int, about: dict) -> str:
    return f"{value} sample{'s' if value != 1 else ''} per problem"


def _count(value: int) -> str:
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return str(value)


OPTIONS: tuple[Option, ...] = (
    Option("tasks", "--tasks", "comma list of task names or paths to YAML task files; 'list' lists them",
           group="which", applies=None),
    Option("suite", "--suite", "comma list of suites: table3, table6, table8, table9, ... (the tables of "
                               "reports/table_specs.json whose tasks exist), ci", group="which", applies=None),
    Option("include_path", "--include-path", "a folder of lm-eval task files: --tasks may name its tasks, groups "
                                             "and tags (lm-eval's --include_path)", parse=Path, applies=None),
    # the Hub and the authors' files hold the same documents (tests/test_data_real.py, test_data_hub.py)
    Option("data_dir", "--data-dir", "read the authors' original files (laid out as shared/data) instead of the "
                                     "Hugging Face Hub", parse=Path, applies=None),
    Option("examples", "--examples", "use the example documents shipped with evalkit (offline demo)", switch=True,
           numbers=True, label=lambda v, a: "example docs", note=lambda v, a: "example documents"),
    Option("num_fewshot", "--num-fewshot", "override the protocol's number of shots (Table 3 tasks: drawn from the "
                                           "benchmark's train split)", parse=int, applies="every",
           setting="num_fewshot", numbers=True, label=lambda v, a: f"{v}-shot"),  # notes: the paper's shots differ
    Option("n_samples", "--n-samples", "samples per request of tasks that draw n (code tasks: per problem and "
                                       "temperature, protocol default 200; maj1@k tasks: k, protocol 256 MATH, "
                                       "100 GSM8K)", parse=int, applies="some", setting="n", numbers=True,
           label=_samples, note=lambda v, a: f"{_samples(v, a)} (--n-samples)"),
    Option("dtype", "--dtype", "llama, hf: default as stored; auto: bfloat16 where the hardware runs it fast (AMX, "
                               "AVX512-BF16, CUDA sm_80+), else float32; bf16, fp32, fp16 are read as bfloat16, "
                               "float32, float16", parse=dtype_name, choices=DTYPES, group="backend", numbers=True,
           label=_dtype),
    Option("limit", "--limit", "evaluate only the first N documents of each task (of each subject for MMLU, as "
                               "lm-eval's subtasks)", parse=int, numbers=True, label=_docs,
           note=lambda v, a: f"first {v} documents"),  # recorded only for the tasks it cut short
    Option("seed", "--seed", "seed of few-shot draws and sampling", parse=int, default=1234, numbers=True,
           label=lambda v, a: f"seed {v}"),
    Option("max_new_tokens", "--max-new-tokens", "generation tasks: maximum new tokens per continuation", parse=int,
           applies="some", setting="max_new_tokens", numbers=True, label=lambda v, a: f"max {v} new tokens",
           note=lambda v, a: f"at most {v} new tokens (--max-new-tokens)"),
    Option("subsample", "--subsample", "realtoxicityprompts: a seeded random subset of N prompts (NOT the paper's "
                                       "protocol; results and reports say so)", parse=int, applies="some",
           setting="subsample", numbers=True, label=lambda v, a: f"subsample of {v} prompts"),
    Option("toxicity_scorer", "--toxicity-scorer", "realtoxicityprompts: perspective (the paper's; key in "
                                                   "$PERSPECTIVE_API_KEY) or local (offline, not comparable)",
           applies="some", setting="toxicity_scorer", numbers=True, label=lambda v, a: f"scorer {v}"),
    Option("toxicity_model", "--toxicity-model", "local toxicity scorer: a transformers classifier folder instead "
                                                 "of alt-profanity-check", applies="some", setting="toxicity_model",
           numbers=True, label=lambda v, a: f"toxicity model {Path(v).name}"),
    Option("perspective_url", "--perspective-url", "Perspective comments:analyze endpoint (default: Google's)",
           applies="some", setting="perspective_url", numbers=True, note=lambda v, a: f"Perspective at {v}"),
    Option("perspective_qps", "--perspective-qps", "Perspective requests per second over the whole run (default 1, "
                                                   "the API's default quota)", parse=float, applies="some",
           setting="perspective_qps"),
    Option("truth_judge", "--truth-judge", "truthfulqa_gen: the truthfulness judge, BACKEND:MODEL (e.g. "
                                           "hf:allenai/truthfulqa-truth-judge-llama2-7B) or openai:MODEL@BASE_URL",
           applies="some", setting="truth_judge", numbers=True, label=lambda v, a: f"truth judge {v}"),
    Option("info_judge", "--info-judge", "truthfulqa_gen: the informativeness judge, as --truth-judge",
           applies="some", setting="info_judge", numbers=True, label=lambda v, a: f"info judge {v}"),
    Option("perspective_timeout_s", "--perspective-timeout", "seconds per Perspective request (default 30)",
           parse=float, applies="some", setting="perspective_timeout_s"),
    Option("perspective_retry_s", "--perspective-retry-s", "first Perspective retry delay, doubling up to 64 s "
                                                           "(default 1)", parse=float, applies="some",
           setting="perspective_retry_s"),
    Option("perspective_give_up_s", "--perspective-give-up-s", "no Perspective verdict for this long: the service "
                                                               "is unreachable, the run stops (default 120)",
           parse=float, applies="some", setting="perspective_give_up_s"),
    Option("output_dir", "--output-dir", "folder for results.json, samples/, report.md/.tex and the response cache "
                                         "(required)", parse=Path, applies=None),
    Option("label", "--label", "name of this run's row in the reports (default: the model's name)", applies=None),
    Option("no_cache", "--no-cache", "do not read or write OUT/cache.sqlite (answers) and OUT/judgements.sqlite",
           switch=True, applies=None),
    Option("no_progress", "--no-progress", "no progress bars or per-request counts", switch=True, applies=None),
    Option("allow_code_execution", "--allow-code-execution", "allow running model-generated code (HumanEval, MBPP) "
                                                             "in the sandbox", switch=True, applies=None),
    Option("unsafe_execution", "--unsafe-execution", "where bubblewrap cannot contain generated code, run it "
                                                     "anyway, uncontained", switch=True, applies=None),
    Option("save_generations", "--save-generations", "generation tasks: write OUT/generations/<task>.jsonl "
                                                     "(task, task_id, completions)", switch=True, applies=None),
    # the backend: the row names the model; device, batch size and tensor parallelism move numbers only by
    # floating-point rounding (--deterministic: bit-identical), and the server's options not at all
    Option("backend", "--backend", "model source: llama, hf, openai, generations (default: llama; generations "
                                   "when --load-generations is given)", group="backend", numbers=True,
           label=lambda v, a: f"{v} backend"),  # recorded where it is not the default (llama)
    Option("model", "--model", "llama, hf: tiny (embedded, random weights) | a llama2.c .bin or a folder holding one "
                               "| Meta folder | HF folder or Hub id; openai: the server's model name. Required by run "
                               "(unless --load-generations); generate and score default to tiny",
           group="backend", applies=None),
    Option("device", "--device", "llama, hf: cpu, cuda, cuda:N or mps", default="cpu", group="backend", applies=None),
    Option("batch_size", "--batch-size", "an integer or 'auto'", default="auto", group="backend", applies=None),
    Option("deterministic", "--deterministic", "unbatched, bit-identical scoring", switch=True, group="backend",
           applies=None),
    Option("tensor_parallel", "--tensor-parallel", "llama: split the model over T processes (heads and FFN columns, "
                                                   "as Meta's shards); launch with torchrun --nproc_per_node T x "
                                                   "replicas", parse=int, default=1, metavar="T", group="backend",
           applies=None),
    Option("device_memory", "--device-memory", "llama, hf with --batch-size auto: free device memory the batches "
                                               "may spend, e.g. 20GB or 20GiB (default: asked of the CUDA device)",
           metavar="SIZE", group="backend", applies=None),
    Option("collective_timeout", "--collective-timeout", "under a launcher: how long a rank waits for the others at "
                                                         "a gather (default 180)", parse=float, metavar="MINUTES",
           group="backend", applies=None),
    Option("base_url", "--base-url", "openai: the server's URL, e.g. http://127.0.0.1:8000/v1", group="backend",
           applies=None),
    Option("api_key_env", "--api-key-env", "openai: environment variable holding the API key", metavar="VAR",
           group="backend", applies=None),
    Option("concurrency", "--concurrency", "openai: requests in flight at once", parse=int, default=4,
           group="backend", applies=None),
    Option("load_generations", "--load-generations", "answer generation requests from a generations file (JSON "
                                                     "lines task, task_id, completions) instead of a model; several "
                                                     "tasks: a folder of <task>.jsonl", parse=Path, metavar="PATH",
           group="backend", numbers=True, note=lambda v, a: f"answers from {Path(v).name} (--load-generations)"),
    Option("training_tokens", "--training-tokens", "tokens the checkpoint was trained on, e.g. 1.4T, 200B, 1e9 "
                                                   "(for Figure 2; default: read from the checkpoint's "
                                                   "trainer_state.json where present)", parse=token_count,
           metavar="N", numbers=True, note=lambda v, a: f"trained on {_count(v)} tokens (--training-tokens)"),
    Option("compare_to", "--compare-to", "add a delta row against the paper's LLaMA row of that size (7B, 13B, 33B, "
                                         "65B) or the nearest by parameter count (nearest)", metavar="SIZE",
           applies=None),
)
BY_NAME = {option.name: option for option in OPTIONS}


def defaults() -> dict[str, Any]:
    """Every keyword `evaluate` takes, with its default."""
    return {option.name: False if option.switch else option.default for option in OPTIONS}


def add_run_arguments(parser) -> None:
    """The `run` flags; the backend's in their own group, as every command that loads a model shows them."""
    which = parser.add_mutually_exclusive_group(required=True)
    backend = parser.add_argument_group("backend")
    for option in OPTIONS:
        option.add_to({"which": which, "backend": backend}.get(option.group, parser))


def add_backend_arguments(parser, generations: bool = False) -> None:
    """The backend flags alone (score, generate); `generations` adds --load-generations."""
    group = parser.add_argument_group("backend")
    for option in OPTIONS:
        if option.group == "backend" and (generations or option.name != "load_generations"):
            option.add_to(group)


def from_keywords(options: dict[str, Any]) -> dict[str, Any]:
    """evaluate()'s keywords, completed with the defaults; text given for a typed option (dtype="bf16",
    training_tokens="1.4T", data_dir="data") is read as its flag would read it."""
    known = defaults()
    if unknown := sorted(set(options) - set(known)):
        raise TypeError(f"evaluate(): unknown option(s) {', '.join(unknown)}; the options are the run flags: "
                        f"{', '.join(sorted(known))}")
    values = {**known, **options}
    for name, value in options.items():
        option = BY_NAME[name]
        if isinstance(value, str) and option.parse is not None:
            values[name] = option.parse_text(value)
        if option.choices and values[name] is not None and values[name] not in option.choices:
            raise UsageError(f"{option.flag}: {values[name]!r} is not one of {', '.join(option.choices)}")
    return values
