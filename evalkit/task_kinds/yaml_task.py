"""User-defined tasks from a YAML file, with lm-eval's key names.

    task: my_task
    data_files: data.jsonl            # or {test: test.jsonl, train: train.jsonl}; relative to this file
    test_split: test                  # optional; fewshot_split: train (default: the test split itself)
    output_type: multiple_choice      # or generate_until, loglikelihood_rolling
    doc_to_text: "Question: {{question}}\\nAnswer:"   # Jinja, or a field name
    doc_to_choice: "{{[sol1, sol2]}}" # Jinja giving a list literal, a field name, or a YAML list
    doc_to_target: label              # field name or Jinja: an index, or the text of a choice
    target_delimiter: " "
    num_fewshot: 0
    normalizer: char                  # none | char | answer (multiple choice only)
    generation_kwargs: {until: ["\\n"], max_gen_toks: 64}   # generate_until only

Fields are rendered with StrictUndefined, as the shipped templates are. The prompt hash recorded
in results is the hash of the YAML text, which holds every template.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any

import yaml

from evalkit.data import read_jsonl
from evalkit.errors import DataError, UsageError
from evalkit.fewshot import sample_fewshot
from evalkit.prompts import Prompt, syntax_error
from evalkit.protocol import RULE_METRICS, HubSource, ProtocolTask, TaskProtocol
from evalkit.requests import GenerateRequest, RollingLoglikelihoodRequest
from evalkit.task import Answer, DataSource, RunContext, SampleResult
from evalkit.task_kinds.multiple_choice import FEWSHOT_DELIMITER, MultipleChoiceTask, mc_doc

OUTPUT_TYPES = ("multiple_choice", "generate_until", "loglikelihood_rolling")


@dataclass(frozen=True)
class YamlConfig:
    path: Path
    task: str
    data_files: dict[str, Path]
    output_type: str
    doc_to_text: str
    doc_to_choice: Any = None
    doc_to_target: Any = None
    test_split: str = "test"
    fewshot_split: str | None = None
    target_delimiter: str = " "
    num_fewshot: int = 0
    normalizer: str = "none"
    generation_kwargs: dict = dc_field(default_factory=dict)


def read_config(path: Path) -> YamlConfig:
    """The YAML file's settings, checked; a bad file is a UsageError naming the file and key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"{path}: cannot read YAML task ({err})") from err
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a YAML task is a mapping of lm-eval keys")
    known = set(YamlConfig.__dataclass_fields__) - {"path"}
    for key in ("task", "data_files", "output_type", "doc_to_text"):
        if key not in raw:
            raise UsageError(f"{path}: missing key '{key}'")
    if unknown := set(raw) - known:
        raise UsageError(f"{path}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    if raw["output_type"] not in OUTPUT_TYPES:
        raise UsageError(f"{path}: output_type {raw['output_type']!r} is not one of {OUTPUT_TYPES}")
    if raw["output_type"] == "multiple_choice":
        if raw.get("doc_to_choice") is None or raw.get("doc_to_target") is None:
            raise UsageError(f"{path}: multiple_choice needs doc_to_choice and doc_to_target")
        if raw.get("normalizer", "none") not in RULE_METRICS:
            raise UsageError(f"{path}: normalizer {raw['normalizer']!r} is not one of {list(RULE_METRICS)}")
    for key in ("doc_to_text", "doc_to_choice", "doc_to_target"):
        specs = raw.get(key) if isinstance(raw.get(key), list) else [raw.get(key)]
        for spec in specs:
            if isinstance(spec, str) and (error := syntax_error(spec)):
                raise UsageError(f"{path}: key {key}: Jinja syntax error ({error}) in {spec!r}")
    files = raw["data_files"]
    files = files if isinstance(files, dict) else {raw.get("test_split", "test"): files}
    return YamlConfig(**{**raw, "path": path, "data_files": {k: path.parent / v for k, v in files.items()}})


class _Fields:
    """Evaluates lm-eval's doc_to_* values on a document: a field name, or a Jinja template."""

    def __init__(self, config: YamlConfig):
        self.config = config

    def value(self, key: str, doc: dict) -> Any:
        spec = getattr(self.config, key)
        if isinstance(spec, list):
            return [self._one(key, item, doc) for item in spec]
        return self._one(key, spec, doc)

    @staticmethod
    def _one(key: str, spec: Any, doc: dict) -> Any:
        if not isinstance(spec, str):
            return spec
        if spec in doc:
            return doc[spec]
        return Prompt(key, spec).render(**doc)

    def text(self, doc: dict) -> str:
        return str(self.value("doc_to_text", doc))

    def choices(self, doc: dict) -> list[str]:
        value = self.value("doc_to_choice", doc)
        if isinstance(value, str):  # a rendered list literal, e.g. "['a', 'b']"
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError) as err:
                raise DataError(f"{self.config.path}: doc_to_choice gave {value!r}, not a list") from err
        return [str(choice) for choice in value] if isinstance(value, list) else value

    def target(self, doc: dict) -> Any:
        value = self.value("doc_to_target", doc)
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value


class _YamlTask(ProtocolTask):
    """Documents come from the YAML's data files whatever the DataSource."""

    def __init__(self, config: YamlConfig):
        self.config, self.fields, self.name = config, _Fields(config), config.task
        self.protocol = TaskProtocol(
            hub=HubSource("json", None, config.test_split),
            fewshot_hub=HubSource("json", None, config.fewshot_split or config.test_split),
            local=tuple(str(p) for p in config.data_files.values()),
            template=config.path.name,
            answer="doc_to_choice / doc_to_target of the YAML file",
            normalizer={"multiple_choice": config.normalizer, "generate_until": "exact_match",
                        "loglikelihood_rolling": "word_perplexity"}[config.output_type],
            rules=self._rules(config), output_type=config.output_type,
            num_fewshot=config.num_fewshot, target_delimiter=config.target_delimiter,
            decoding=str(config.generation_kwargs or "loglikelihood"),
            paper_table="", paper_column="", notes=f"user task {config.path}")

    @staticmethod
    def _rules(config: YamlConfig) -> tuple[str, ...]:
        if config.output_type != "multiple_choice":
            return ()
        return ("none", "char", "answer") if config.normalizer == "answer" else ("none", "char")

    @property
    def prompt(self) -> Prompt:
        return Prompt(self.config.path.name, self.config.path.read_text(encoding="utf-8"))

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        docs = self._split(self.config.test_split)
        return docs[:limit] if limit is not None else docs

    def fewshot_pool(self) -> list[dict]:
        return self._split(self.config.fewshot_split or self.config.test_split)

    def _split(self, split: str) -> list[dict]:
        if split not in self.config.data_files:
            raise UsageError(f"{self.config.path}: no data file for split {split!r}")
        return [record for _, record in read_jsonl(self.config.data_files[split])]


class YamlMultipleChoiceTask(_YamlTask, MultipleChoiceTask):
    def context(self, doc: dict) -> str:
        return self.fields.text(doc)

    def choices(self, doc: dict) -> list[str]:
        choices = self.fields.choices(doc)
        return mc_doc(f"{self.config.path}: document", choices, 0)["choices"]

    def gold(self, doc: dict) -> int:
        target, choices = self.fields.target(doc), self.choices(doc)
        index = choices.index(target) if isinstance(target, str) and target in choices else target
        return mc_doc(f"{self.config.path}: document", choices, index)["label"]


class YamlGenerateTask(_YamlTask):
    def context(self, doc: dict, doc_id: int, seed: int) -> str:
        shots = sample_fewshot(self.fewshot_pool(), self.config.num_fewshot, seed, doc_id, doc)
        return "".join(self.fields.text(ex) + self.config.target_delimiter + str(self.fields.target(ex))
                       + FEWSHOT_DELIMITER for ex in shots) + self.fields.text(doc)

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[GenerateRequest]:
        kwargs = self.config.generation_kwargs
        return [GenerateRequest(self.context(doc, doc_id, seed), until=tuple(kwargs.get("until", ["\n\n"])),
                                max_new_tokens=int(kwargs.get("max_gen_toks", 256)),
                                temperature=float(kwargs.get("temperature", 0.0)), seed=seed)]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        (answer,) = answers
        prediction, target = answer.result.texts[0].strip(), str(self.fields.target(doc)).strip()
        return SampleResult(doc_id, answer.request.context, target, prediction,
                            {"exact_match": float(prediction == target)})


class YamlRollingTask(_YamlTask):
    """Perplexity of whole texts: word and byte perplexity, bits per byte (lm-eval's definitions)."""

    def requests(self, doc: dict, doc_id: int, seed: int,
                 context: RunContext = RunContext()) -> list[RollingLoglikelihoodRequest]:
        return [RollingLoglikelihoodRequest(self.fields.text(doc))]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        (answer,) = answers
        text = answer.request.text
        return SampleResult(doc_id, text, None, None, {
            "loglikelihood": answer.result.loglikelihood,
            "words": float(len(text.split())), "bytes": float(len(text.encode("utf-8")))})

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        ll, words, nbytes = (sum(s.metrics[k] for s in samples) for k in ("loglikelihood", "words", "bytes"))
        return {"word_perplexity": math.exp(-ll / words), "byte_perplexity": math.exp(-ll / nbytes),
                "bits_per_byte": -ll / nbytes / math.log(2)}


def load_yaml_task(path: Path) -> ProtocolTask:
    config = read_config(path)
    cls = {"multiple_choice": YamlMultipleChoiceTask, "generate_until": YamlGenerateTask,
           "loglikelihood_rolling": YamlRollingTask}[config.output_type]
    return cls(config)
