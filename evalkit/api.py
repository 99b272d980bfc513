"""The Python API: `evalkit.evaluate(model=..., tasks=[...], **options)` does what `run` does and returns
the results.json document. The options are the run options of evalkit/run_options.py (data_dir, limit,
batch_size, output_dir, num_fewshot, ...), the `run` flags with underscores and the same defaults; the
`run` command is a thin layer over this function. Without `output_dir` nothing is written (no files, no
response cache).

    import evalkit
    document = evalkit.evaluate(model="tiny", tasks=["boolq", "piqa"], examples=True, limit=10)
    document["results"]["piqa"]["acc_char"]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from evalkit.errors import EvalkitError, ScorerError, UsageError
from evalkit.run_options import OPTIONS, Option, from_keywords


def evaluate(model: str | None = None, tasks: list[str] | str | None = None, *,
             on_task: Callable[[Any], None] | None = None, **options: Any) -> dict[str, Any] | None:
    """Evaluate `tasks` (names, YAML paths, or suites via suite="table3") on `model`; returns the
    results.json document (None on ranks other than 0 of a data-parallel launch); its "incomplete", when
    present, names each task whose headline metric is not over all its documents, and why (a scorer that
    could not be reached stops the run: the tasks after it are listed as not run). `on_task(run)` is
    called with each task's TaskRun as soon as the task finishes."""
    if isinstance(tasks, (list, tuple)):
        tasks = ",".join(tasks)
    args = argparse.Namespace(**from_keywords({**options, "model": model, "tasks": tasks}))
    if bool(args.tasks) == bool(args.suite):
        raise UsageError("give tasks or a suite (one of them)")
    return execute(args, on_task)


def execute(args: argparse.Namespace, on_task: Callable[[Any], None] | None = None) -> dict[str, Any] | None:
    """The run: check everything, load the backend, evaluate task after task, write the outputs."""
    from evalkit.backends import backend_name, load_backend, options_from_args
    from evalkit.layout import tasks_package
    from evalkit.preflight import check_output_dir
    from evalkit.runner import Caches, plan_task, run_task
    from evalkit.scorers.judgement_cache import JudgementCache
    from evalkit.serving.distributed import finish, is_main_process, main_process_first
    from evalkit.serving.response_cache import ResponseCache
    from evalkit.task import DataSource, split_groups
    from evalkit.training_progress import training_progress

    tasks, groups = split_groups(tasks_package().resolve_tasks(args.tasks or args.suite, args.include_path))
    name = backend_name(args)
    options_from_args(args)
    check_settings(args, tasks)
    changed = configure(args, tasks)
    if args.model is None and name != "generations":
        raise UsageError("--model is required (e.g. --model tiny for the embedded model with random weights, a "
                         "llama2.c .bin or its folder, a Meta or Hugging Face folder, a Hub id), unless the "
                         "answers come from --load-generations")
    args.training = training_progress(args.model, args.training_tokens)  # read before any work is spent
    source = DataSource(data_dir=args.data_dir, examples=args.examples)
    for task in tasks:  # local files are read and checked before the model loads: a missing or malformed
        task.check_source(source)  # file of the last task refuses the run instead of ending it
        if source.data_dir is not None or source.examples:
            task.docs(source)
    fresh = args.output_dir is not None and not args.output_dir.exists()
    if args.output_dir is not None:  # the last check before loading: a refused run leaves no folder behind
        check_output_dir(args.output_dir)
    progress = not args.no_progress

    try:  # the backend refuses what it cannot answer (a generations file of another task) before any work
        backend = load_backend(args)
        plans = [plan_task(task, source, backend, args.seed, args.limit) for task in tasks]
    except EvalkitError:
        if fresh and is_main_process() and not any(args.output_dir.iterdir()):
            args.output_dir.rmdir()
        raise
    caches = Caches()
    if args.output_dir is not None and not args.no_cache:
        with main_process_first():
            caches = Caches(ResponseCache(args.output_dir / "cache.sqlite", backend.fingerprint),
                            JudgementCache(args.output_dir / "judgements.sqlite"))
    runs, stopped = [], {}
    for index, plan in enumerate(plans):
        try:
            runs.append(run_task(plan, backend, caches, progress))
        except ScorerError as error:  # a scorer or judge that cannot be reached: the run stops, what was done is kept
            stopped = {plan.task.name: str(error)} | {
                later.task.name: f"not run: the run stopped at {plan.task.name}" for later in plans[index + 1:]}
            break
        if on_task is not None and is_main_process():
            on_task(runs[-1])
    incomplete = {run.task.name: why for run in runs if (why := run.shortfall())} | stopped
    document = results(args, runs, backend, changed, incomplete, groups) if is_main_process() else None
    finish()
    return document


def check_settings(args, tasks) -> None:
    """Refuse bad settings before any model is loaded or any request is computed."""
    from evalkit.report.table import check_compare_to
    from evalkit.scorers import runs_untrusted_code

    check_compare_to(args.compare_to)
    if args.training_tokens is not None and args.training_tokens < 0:
        raise UsageError(f"--training-tokens: expected 0 or more, got {args.training_tokens}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit: expected a positive integer, got {args.limit}")
    if args.data_dir is not None and args.examples:
        raise UsageError("--data-dir and --examples are exclusive")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    risky = [t.name for t in tasks if runs_untrusted_code(t)]
    if risky and not args.allow_code_execution:
        raise UsageError(f"{', '.join(risky)} run model-generated code; pass --allow-code-execution to "
                         "allow it (each program runs in a separate, limited process without network)")
    if risky:  # fail closed before any work: without containment only --unsafe-execution runs code
        from evalkit.execution import allow_unsafe_execution, find_sandbox
        find_sandbox(allow_unsafe=args.unsafe_execution)  # ContainmentMissing unless bwrap works or it is allowed
        if args.unsafe_execution:
            allow_unsafe_execution()
    if args.n_samples is not None and args.n_samples < 1:
        raise UsageError(f"--n-samples: expected a positive integer, got {args.n_samples}")
    if args.num_fewshot is not None and args.num_fewshot < 0:
        raise UsageError(f"--num-fewshot: expected 0 or more, got {args.num_fewshot}")
    if args.n_samples is not None and not any("n" in t.settings() for t in tasks):
        raise UsageError("--n-samples applies to tasks that draw n samples per request (humaneval, mbpp, "
                         "math_maj1@k, gsm8k_maj1@k), and none was asked for")


def configure(args, tasks) -> dict[str, dict[str, Any]]:
    """Apply each run option that sets a protocol setting to the tasks it applies to (run_options.py:
    --num-fewshot to every task, the others to the tasks that have the setting; from a generations file
    with one completion per problem, n is 1); then check the scorers the tasks will need. Returns, per
    task, the options that changed its protocol."""
    from evalkit.generations_file import generations_of
    from evalkit.scorers import check_scorers

    changed: dict[str, dict[str, Any]] = {task.name: {} for task in tasks}
    for option in OPTIONS:
        if option.setting is None:
            continue
        value = getattr(args, option.name)
        takers = tasks if option.applies == "every" else [t for t in tasks if option.setting in t.settings()]
        if option.name == "n_samples" and value is None and args.load_generations is not None:
            values = {t.name: 1 for t in takers if generations_of(args.load_generations, t.name).one_each()}
        elif value is None:
            continue
        elif not takers:
            raise UsageError(f"{option.flag} applies to no task asked for")
        else:
            values = {t.name: value for t in takers}
        for task in takers:
            if task.name not in values:
                continue
            value = values[task.name]
            before = getattr(task.protocol, option.setting, None)
            try:
                task.configure(**{option.setting: value})
            except UsageError as error:
                raise UsageError(f"{option.flag}: {error}") from None
            if getattr(task.protocol, option.setting, None) != before:
                changed[task.name][option.name] = value
    for task in tasks:
        check_scorers(task)
    return changed


def applied(args, run, changed: dict[str, Any]) -> dict[str, Any]:
    """The run options that applied to `run`'s task and change its numbers (results.json
    `protocol.<task>.options`): the protocol settings they changed (`changed`), and the run's own
    options where they differ from their default, --limit only where it cut the task short."""
    found = {}
    for option in OPTIONS:
        value = getattr(args, option.name)
        if option.name in changed:
            found[option.name] = changed[option.name]
        elif option.applies == "run" and option.numbers and _departs(option, value, run):
            found[option.name] = str(value) if isinstance(value, Path) else value
    return found


def _departs(option: Option, value: Any, run) -> bool:
    if value in (None, False, option.default):
        return False
    if option.name == "limit":
        return run.documents_total is not None and run.documents < run.documents_total
    return option.name != "backend" or value != "llama"  # the default backend, asked for by name


def results(args, runs, backend, changed: dict[str, dict[str, Any]], incomplete: dict[str, str],
            groups: list = ()) -> dict[str, Any]:
    """The results.json document (`changed`: per task, the options that changed its protocol; `incomplete`:
    task -> why its headline metric is not over all its documents; `groups`: the groups asked for, each
    reported from its tasks); with an output folder, it is written with the samples, generations and
    reports (rank 0 only), and per-task files of earlier runs in that folder are removed."""
    from evalkit.backends import backend_name, options_from_args
    from evalkit.generations_file import save_generations, task_file
    from evalkit.report import write_reports
    from evalkit.results import remove_other_tasks_files, results_document, write_results, write_samples

    settings = {"tasks": args.tasks, "suite": args.suite, "data": str(args.data_dir) if args.data_dir else
                ("examples" if args.examples else "hub"), "limit": args.limit, "num_fewshot": args.num_fewshot,
                "batch_size": options_from_args(args).batch_size, "dtype": args.dtype, "seed": args.seed,
                "deterministic": args.deterministic, "n_samples": args.n_samples,
                "load_generations": str(args.load_generations or "") or None, "backend": backend_name(args),
                **{o.name: getattr(args, o.name) for o in OPTIONS if o.setting and o.numbers}}
    model = backend.describe()
    if args.label:
        model["label"] = args.label
    if args.training is not None:
        model["training"] = args.training
    options = {run.task.name: applied(args, run, changed.get(run.task.name, {})) for run in runs}
    document = results_document(runs, model, settings, options, incomplete, groups)
    if args.output_dir is None:
        return document
    remove_other_tasks_files(args.output_dir, [run.task.name for run in runs])
    for run in runs:
        write_samples(args.output_dir, run)
        if args.save_generations and run.generations:
            save_generations(task_file(args.output_dir / "generations", run.task.name), run.task.name,
                             run.generations)
    write_results(args.output_dir, document)
    write_reports(args.output_dir, [document], args.compare_to, [args.output_dir])
    return document
