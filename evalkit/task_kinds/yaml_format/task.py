"""One lm-eval YAML task as an evalkit Task: documents, prompts, requests, filters and metrics.

Results carry lm-eval's metric names (`acc`, `acc_norm`; a filtered metric as `exact_match,strict-match`);
the headline metric is the first of metric_list (through the first filter). Per document, the sample
records the shots used, the choices' log-likelihoods or the raw and filtered responses, and each
metric's item. `process_results` (a `!function`) replaces the built-in metrics as in lm-eval. An
`unsafe_code` task's code_eval metrics are judged in evalkit's box (code_eval.py; the code_execution
scorer, refused without --allow-code-execution), never by calling them.
"""
from __future__ import annotations

import dataclasses
from numbers import Real
from typing import Any

from evalkit.errors import UsageError
from evalkit.prompts import Prompt
from evalkit.requests import LoglikelihoodRequest
from evalkit.protocol import HubSource, ProtocolTask, TaskProtocol
from evalkit.task import Answer, DataSource, RunContext, SampleResult
from evalkit.task_kinds.yaml_format import code_eval, filters, metrics, outputs
from evalkit.task_kinds.yaml_format.config import YamlConfig
from evalkit.task_kinds.yaml_format.documents import Documents
from evalkit.task_kinds.yaml_format.fewshot import Prompts, Sampler


class YamlTask(ProtocolTask):
    """A task of lm-eval's format (output_type multiple_choice, loglikelihood, loglikelihood_rolling or
    generate_until). Its documents come from its own dataset keys, whatever --data-dir says."""

    def __init__(self, config: YamlConfig):
        self.config, self.name = config, config.task
        self.documents = Documents(config)
        self.metric_settings = metrics.metric_settings(config.metric_list, config.output_type)
        self.pipelines = filters.pipelines(config.filter_list if config.output_type == "generate_until" else None)
        self.code_evals = {s["name"]: code_eval.recognise(s["metric"], s["options"], str(config.path))
                           for s in self.metric_settings if config.unsafe_code and callable(s["metric"])}
        self._prompts: Prompts | None = None
        self._seed: int | None = None
        self.protocol = self._protocol()

    def _protocol(self) -> TaskProtocol:
        c = self.config
        return TaskProtocol(
            hub=HubSource(c.dataset_path, c.dataset_name, c.eval_split),
            fewshot_hub=HubSource(c.dataset_path, c.dataset_name, c.fewshot.split or "training/validation/test"),
            fewshot_sampler=c.fewshot.sampler, local=(), template=c.path.name,
            answer="doc_to_choice / doc_to_target of the YAML file", normalizer=self.metric_names()[0],
            rules=tuple(self.metric_names()), output_type=c.output_type, num_fewshot=c.shots,
            target_delimiter=c.target_delimiter, decoding=str(c.generation_kwargs or "loglikelihood"),
            paper_table="", paper_column="", notes=f"lm-eval task file {c.path}")

    def _expanded(self, name: str) -> list[str]:
        """The result keys of a code_eval wrapper returning code_eval's dict (pass@1, ...), as lm-eval expands them."""
        metric = self.code_evals.get(name)
        return [k for k in metric.keys() if k != name] if metric else []

    def metric_names(self) -> list[str]:
        """lm-eval's result keys: each metric, suffixed by its filter's name where the task declares filters."""
        names = [key for s in self.metric_settings
                 for key in (self.code_evals[s["name"]].keys() if s["name"] in self.code_evals else [s["name"]])]
        return [n if f == "none" else f"{n},{f}" for f in self.pipelines for n in names]

    def protocol_dict(self) -> dict:
        c = self.config
        return super().protocol_dict() | {
            "lm_eval": {"task_alias": c.task_alias, "tag": c.tag, "dataset_kwargs": c.dataset_kwargs,
                        "repeats": c.repeats, "filters": list(self.pipelines), "metadata": c.metadata,
                        "should_decontaminate": c.should_decontaminate, "unsafe_code": c.unsafe_code,
                        **({"code_eval": {"rule": code_eval.RULE, "metrics": {
                            name: {"k": list(m.ks), "timeout_s": m.timeout_s} for name, m in self.code_evals.items()}}}
                           if self.code_evals else {}),
                        "higher_is_better": {key: s["higher_is_better"] for s in self.metric_settings
                                             for key in [s["name"], *self._expanded(s["name"])]}}}

    @property
    def prompt(self) -> Prompt:
        return Prompt(self.config.path.name, self.config.path.read_text(encoding="utf-8"))

    def settings(self) -> set[str]:
        return {"num_fewshot"}

    def configure(self, **settings) -> None:
        if unknown := set(settings) - self.settings():
            raise UsageError(f"{self.name}: no protocol setting {', '.join(sorted(unknown))}")
        if "num_fewshot" in settings:
            if settings["num_fewshot"] < 0:
                raise UsageError(f"{self.name}: num_fewshot must be 0 or more, got {settings['num_fewshot']}")
            self.config = dataclasses.replace(self.config, num_fewshot=settings["num_fewshot"])
            self.protocol = self._protocol()

    def docs(self, source: DataSource, limit: int | None = None) -> list[dict]:
        docs = self.documents.evaluated()
        return docs[:limit] if limit is not None else docs

    def shot_starts(self, prompt: str) -> list[int] | None:
        """Where each shot of a prompt this task rendered begins (None: not one of its prompts)."""
        return None if self._prompts is None else self._prompts.shot_starts.get(prompt)

    def fewshot_pool(self) -> list[dict]:
        return self.documents.fewshot_pool()

    def prompts(self, seed: int) -> Prompts:
        if self._prompts is None or self._seed != seed:
            c = self.config
            sampler = Sampler(c.fewshot.sampler, self.fewshot_pool(), seed, c.fewshot.split == c.test_split) \
                if c.shots else None
            self._prompts, self._seed = Prompts(c, sampler), seed
        return self._prompts

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list:
        c, prompts = self.config, self.prompts(seed)
        docs = self.documents.evaluated()
        contexts, _ = prompts.contexts(doc_id, docs, c.shots)
        if c.output_type == "multiple_choice":
            return outputs.choice_requests(c, contexts, prompts.choices(doc), prompts.target(doc),
                                           prompts.multiple_input(docs[0]), "acc_mutual_info" in self._used())
        if c.output_type == "loglikelihood":
            return [LoglikelihoodRequest(contexts[0], str(prompts.target(doc)))]
        if c.output_type == "loglikelihood_rolling":
            return outputs.rolling_requests(str(prompts.target(doc)))
        return [outputs.generation_request(c, contexts[0], seed)]

    def scorers(self) -> dict[str, dict]:
        return {"code_execution": {"timeout_s": code_eval.TIMEOUT_S}} if self.code_evals else {}

    def scorer_inputs(self, scorer: str, doc: dict, answer: Answer) -> list:
        """code_eval's programs of one document: per filter, per code_eval metric, one per candidate."""
        reference = self._gold_text(doc, self._prompts or Prompts(self.config, None))
        return [code_eval.program(candidate, reference, metric.timeout_s)
                for _, metric, answers in self._code_runs(doc, list(answer.result.texts))
                for candidate in answers]

    def _code_runs(self, doc: dict, responses: list[str]):
        """(filter, code_eval metric, candidates) in the order of scorer_inputs' programs."""
        for name, steps in self.pipelines.items():
            answers = code_eval.candidates(filters.apply(steps, responses, doc))
            for metric in self.code_evals.values():
                yield name, metric, answers

    def _code_items(self, doc: dict, answer: Answer) -> tuple[dict[str, Any], dict[str, Any]]:
        """Per filter, each code_eval metric's items from the box's verdicts, and what the sample records."""
        runs = iter(answer.judgements["code_execution"])
        items: dict[str, Any] = {}
        record: dict[str, Any] = {"isolation": set()}
        for name, metric, answers in self._code_runs(doc, list(answer.result.texts)):
            results = [next(runs) for _ in answers]
            found = metric.items([r.passed for r in results])
            items.update({k if name == "none" else f"{k},{name}": v for k, v in found.items()})
            record.setdefault("code_eval", {})[f"{metric.name},{name}"] = {
                "passed": [r.passed for r in results], "reasons": code_eval.reasons(results)}
            record["isolation"].update(r.isolation for r in results)
        record["isolation"] = sorted(record["isolation"])
        return items, record

    def _used(self) -> set[str]:
        return {s["name"] for s in self.metric_settings}

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        c, prompts = self.config, self.prompts(seed)
        docs = self.documents.evaluated()
        _, shots = prompts.contexts(doc_id, docs, c.shots)
        extra: dict[str, Any] = {"num_fewshot": shots}
        results = [a.result for a in answers]
        if c.output_type == "generate_until":
            responses = list(results[0].texts)
            filtered = {name: filters.apply(steps, responses, doc) for name, steps in self.pipelines.items()}
            extra.update(resps=responses, filtered_resps=filtered)
            items = {}
            settings = [s for s in self.metric_settings if s["name"] not in self.code_evals]
            for name, answer in filtered.items():
                found = self._results(doc, [answer]) if c.process_results else \
                    outputs.generation_items(settings, answer, self._gold_text(doc, prompts)) if settings else {}
                items.update({k if name == "none" else f"{k},{name}": v for k, v in found.items()})
            if self.code_evals:
                code_items, record = self._code_items(doc, answers[0])
                items.update(code_items)
                extra.update(record)
            prediction = filtered[next(iter(filtered))]
        elif c.output_type == "multiple_choice":
            choices, multiple = prompts.choices(doc), prompts.multiple_input(docs[0])
            lls = [r.loglikelihood for r in results]
            greedy = [r.is_greedy for r in results]
            n = len(choices)
            extra.update(choices=choices, loglikelihoods=lls[:n])
            if len(lls) > n:
                extra["unconditional_loglikelihoods"] = lls[n:]
            gold = prompts.text(doc) if multiple else prompts.target(doc)
            items = self._results(doc, list(zip(lls, greedy))) if c.process_results else \
                outputs.multiple_choice_items(self._used(), choices, gold, lls[:n], greedy[:n], lls[n:] or None)
            prediction = outputs.argmax(lls[:n])
        elif c.output_type == "loglikelihood":
            (r,) = results
            items = self._results(doc, [(r.loglikelihood, r.is_greedy)]) if c.process_results else \
                {k: v for k, v in {"perplexity": r.loglikelihood, "acc": float(r.is_greedy)}.items() if k in self._used()}
            prediction = r.loglikelihood
        else:
            (r,) = results
            items = self._results(doc, [r.loglikelihood]) if c.process_results else \
                {k: v for k, v in outputs.rolling_items(answers[0].request.text, r.loglikelihood).items()
                 if k in self._used()}
            prediction = r.loglikelihood
        numbers = {k: float(v) for k, v in items.items() if isinstance(v, Real)}
        extra["items"] = {k: v for k, v in items.items() if k not in numbers}
        request = answers[0].request
        prompt = getattr(request, "context", None) or getattr(request, "text", "")
        return SampleResult(doc_id, prompt, self._target_record(doc, prompts), prediction, numbers, extra)

    def _results(self, doc: dict, results: list) -> dict[str, Any]:
        try:
            return dict(self.config.process_results(doc, results))
        except Exception as err:  # the task's own function failing on a document
            raise UsageError(f"{self.config.path}: key process_results: {type(err).__name__}: {err}") from err

    def _gold_text(self, doc: dict, prompts: Prompts) -> Any:
        gold = prompts.target(doc)
        return prompts.choices(doc)[gold] if self.config.doc_to_choice is not None else gold

    def _target_record(self, doc: dict, prompts: Prompts) -> Any:
        if self.config.output_type == "multiple_choice" and prompts.multiple_input(self.documents.evaluated()[0]):
            return prompts.text(doc)
        return prompts.target(doc)

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        found: dict[str, float] = {}
        for key in dict.fromkeys(k for s in samples for k in (*s.metrics, *s.extra.get("items", {}))):
            base = key.split(",")[0]
            base = next((name for name, m in self.code_evals.items() if base in m.keys()), base)
            setting = next((s for s in self.metric_settings if s["name"] == base),
                           {"aggregation": metrics.DEFAULTS.get(base, ("mean", True))[0]})
            items = [s.metrics[key] if key in s.metrics else s.extra["items"][key] for s in samples
                     if key in s.metrics or key in s.extra.get("items", {})]
            found[key] = metrics.aggregate(setting, items)
        return found
