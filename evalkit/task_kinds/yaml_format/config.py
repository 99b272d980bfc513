"""An lm-eval task config: the keys of lm-eval 0.4's TaskConfig, with its defaults, checked on reading.

`from_mapping` takes a file's mapping (includes merged, `!function`s imported) and refuses, in one line
naming the file and the key, an unknown key, a bad output type, an unknown metric, aggregation, filter
or sampler, and a Jinja syntax error. `fewshot` is lm-eval's FewshotConfig: `fewshot_config` over the
task's own keys (split from `fewshot_split`, delimiters, `doc_to_*`, `gen_prefix`, `process_docs`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from evalkit.errors import UsageError
from evalkit.prompts import syntax_error
from evalkit.task_kinds.yaml_format import code_eval, filters, metrics

OUTPUT_TYPES = ("multiple_choice", "loglikelihood", "loglikelihood_rolling", "generate_until")
SAMPLERS = ("default", "first_n")
TEMPLATE_KEYS = ("doc_to_text", "doc_to_target", "doc_to_choice", "description", "gen_prefix")
NOT_TEXT = ("doc_to_image", "doc_to_audio", "use_prompt")  # lm-eval keys evalkit refuses


@dataclass(frozen=True)
class Fewshot:
    """lm-eval's FewshotConfig: how the shots are drawn and written (defaults: the task's own keys)."""
    sampler: str = "default"
    split: str | None = None
    samples: Any = None                 # a list of documents, or a function returning one
    process_docs: Callable | None = None
    doc_to_text: Any = None
    doc_to_choice: Any = None
    doc_to_target: Any = None
    gen_prefix: str | None = None
    fewshot_delimiter: str = "\n\n"
    target_delimiter: str = " "
    fewshot_indices: list[int] | None = None


@dataclass(frozen=True)
class YamlConfig:
    """One task of lm-eval's format; `path` is the file it came from (its folder anchors data files)."""
    path: Path
    task: str
    task_alias: str | None = None
    tag: str | list | None = None
    dataset_path: str | None = None
    dataset_name: str | None = None
    dataset_kwargs: dict | None = None
    custom_dataset: Callable | None = None  # a !function (**metadata, **dataset_kwargs) -> {split: rows}
    training_split: str | None = None
    validation_split: str | None = None
    test_split: str | None = None
    fewshot_split: str | None = None
    process_docs: Callable | None = None
    doc_to_text: Any = None
    doc_to_target: Any = None
    doc_to_choice: Any = None
    process_results: Callable | None = None
    description: str = ""
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    fewshot_config: dict | None = None
    num_fewshot: int | None = None
    metric_list: list | None = None
    output_type: str = "generate_until"
    generation_kwargs: dict | None = None
    repeats: int = 1
    filter_list: list | None = None
    should_decontaminate: bool = False  # recorded; evalkit does not decontaminate
    doc_to_decontamination_query: Any = None
    gen_prefix: str | None = None
    unsafe_code: bool = False
    metadata: dict | None = None
    fewshot: Fewshot = field(default_factory=Fewshot)

    @property
    def eval_split(self) -> str:
        """lm-eval evaluates the test split, else the validation split."""
        return self.test_split or self.validation_split

    @property
    def shots(self) -> int:
        return self.num_fewshot or 0

    @property
    def until(self) -> list[str]:
        """Stop strings: generation_kwargs' `until`, else the few-shot delimiter (lm-eval's default)."""
        until = (self.generation_kwargs or {}).get("until", [self.fewshot_delimiter])
        return [until] if isinstance(until, str) else list(until)


def from_mapping(raw: dict, path: Path) -> YamlConfig:
    """The checked config of one task mapping read from `path`."""
    where = str(path)
    raw = dict(raw)
    if "class" in raw:
        raise UsageError(f"{where}: key class: a task written in Python, not in the YAML format")
    raw.pop("group", None)  # old task files name their group here; membership comes from group files
    known = {f.name for f in dataclasses.fields(YamlConfig)} - {"path", "fewshot"}
    if not isinstance(raw.get("task"), str):
        raise UsageError(f"{where}: missing key 'task' (the task's name)")
    for key in NOT_TEXT:
        if raw.get(key) not in (None, False, ""):
            raise UsageError(f"{where}: key {key}: not supported by evalkit (text-only tasks)")
        raw.pop(key, None)
    if unknown := sorted(set(raw) - known):
        raise UsageError(f"{where}: unknown key(s) {unknown}")
    if raw.get("output_type", "generate_until") not in OUTPUT_TYPES:
        raise UsageError(f"{where}: key output_type: {raw['output_type']!r} is not one of {', '.join(OUTPUT_TYPES)}")
    for key in TEMPLATE_KEYS:
        specs = raw.get(key) if isinstance(raw.get(key), list) else [raw.get(key)]
        for spec in specs:
            if isinstance(spec, str) and (error := syntax_error(spec)):
                raise UsageError(f"{where}: key {key}: Jinja syntax error ({error})")
    if raw.get("dataset_path") is None and raw.get("custom_dataset") is None:
        raise UsageError(f"{where}: missing key 'dataset_path'")
    if not (raw.get("test_split") or raw.get("validation_split")):
        raise UsageError(f"{where}: missing key 'test_split' or 'validation_split' (the split evaluated)")
    kwargs = dict(raw.get("dataset_kwargs") or {})
    kwargs.pop("trust_remote_code", None)  # datasets 4 runs no dataset scripts
    raw["dataset_kwargs"] = kwargs
    metrics.check_metric_list(raw.get("metric_list"), raw.get("output_type", "generate_until"), where,
                              custom_results=raw.get("process_results") is not None)
    filters.check_filter_list(raw.get("filter_list"), where)
    if raw.get("unsafe_code"):
        _check_unsafe(raw, where)
    elif wrapper := next((e["metric"] for e in raw.get("metric_list") or [] if callable(e["metric"])
                          and code_eval.is_wrapper(e["metric"])), None):
        raise UsageError(f"{where}: key unsafe_code: not true, but metric {wrapper.__name__} runs generated code "
                         "through code_eval (lm-eval runs it in its own process)")
    generation = dict(raw.get("generation_kwargs") or {})
    if "temperature" in generation:
        generation["temperature"] = float(generation["temperature"])
    raw["generation_kwargs"] = generation
    config = YamlConfig(path=path, **raw)
    return dataclasses.replace(config, fewshot=_fewshot(config, where))


def _check_unsafe(raw: dict, where: str) -> None:
    """An unsafe_code task runs its programs only through code_eval's rule in evalkit's box: refuse any
    other way its scoring could run model-written code in this process (code_eval.py)."""
    if raw.get("process_results") is not None:
        raise UsageError(f"{where}: key process_results: an unsafe_code task's own scoring would run generated "
                         "code in this process; evalkit runs it only through code_eval's rule in its box")
    if raw.get("output_type", "generate_until") != "generate_until":
        raise UsageError(f"{where}: key output_type: an unsafe_code task generates code (generate_until)")
    entries = raw.get("metric_list") or []
    for entry in entries:
        if callable(entry["metric"]):
            code_eval.recognise(entry["metric"], metrics.options(entry), where)
    if not any(callable(entry["metric"]) for entry in entries):
        raise UsageError(f"{where}: key metric_list: an unsafe_code task without a code_eval metric runs no code")


def _fewshot(config: YamlConfig, where: str) -> Fewshot:
    given = dict(config.fewshot_config or {})
    inherited = {"split": config.fewshot_split, "process_docs": config.process_docs,
                 "fewshot_delimiter": config.fewshot_delimiter, "target_delimiter": config.target_delimiter,
                 "gen_prefix": config.gen_prefix, "doc_to_text": config.doc_to_text,
                 "doc_to_choice": config.doc_to_choice, "doc_to_target": config.doc_to_target}
    known = {f.name for f in dataclasses.fields(Fewshot)}
    if unknown := sorted(set(given) - known):
        raise UsageError(f"{where}: key fewshot_config: unknown key(s) {unknown}")
    settings = {**inherited, **given}
    settings["sampler"] = settings.get("sampler") or "default"
    if settings["sampler"] not in SAMPLERS:
        raise UsageError(f"{where}: key fewshot_config.sampler: {settings['sampler']!r} is not one of "
                         f"{', '.join(SAMPLERS)}")
    return Fewshot(**settings)
