"""Code-generation tasks scored by execution (LLaMA Table 8): the protocol and the shared base class.

Following the LLaMA paper (and Chen et al. 2021), each problem gets two sets of n samples: pass@1
is estimated from the samples at temperature 0.1, pass@k (k = 100 for HumanEval, 80 for MBPP) from
the samples at temperature 0.8, both with top-p 0.95 and the unbiased estimator. A pass@k is
reported only when every problem has at least k samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.data import read_jsonl
from evalkit.errors import UsageError
from evalkit.execution.box import Program
from evalkit.metrics.pass_at_k import mean_pass_at_k, pass_at_k
from evalkit.protocol import ProtocolTask, TaskProtocol
from evalkit.requests import GenerateRequest
from evalkit.task import Answer, RunContext, SampleResult


@dataclass(frozen=True)
class CodeProtocol(TaskProtocol):
    n: int = 200                     # samples per problem and temperature (Chen et al. use 200)
    k: int = 100                     # the large k of the paper's column: 100 HumanEval, 80 MBPP
    pass1_temperature: float = 0.1
    sample_temperature: float = 0.8
    top_p: float = 0.95
    until: tuple[str, ...] = ()
    max_new_tokens: int = 512
    timeout_s: float = 3.0           # per program, wall clock
    output_type: str = "generate_until"
    decoding: str = "n samples at temperature 0.1 (pass@1) and n at 0.8 (pass@k), top-p 0.95"


class CodeTask(ProtocolTask):
    """A benchmark whose completions are executed: subclasses say how a completion becomes a program.

    The "code_execution" scorer (evalkit/scorers/code_execution.py) runs the programs in the box; the
    runner refuses it without --allow-code-execution and records the isolation in force.
    """
    protocol: CodeProtocol

    def __init__(self, n: int | None = None, timeout_s: float | None = None):
        self.configure(**{key: value for key, value in (("n", n), ("timeout_s", timeout_s)) if value is not None})

    def configure(self, **settings) -> None:
        super().configure(**settings)
        if self.protocol.n < 1:
            raise UsageError(f"{self.name}: n must be at least 1, got {self.protocol.n}")

    def read_local(self, paths: list[Path]) -> list[dict]:
        return [self.parse_doc(where, record) for where, record in read_jsonl(paths[0])]

    def from_hub(self, row: dict) -> dict:
        return self.parse_doc(f"{self.protocol.hub.path} {row.get('task_id')}", row)

    @staticmethod
    def parse_doc(where: str, record: dict) -> dict:
        """One problem record (local line or Hub row) -> the task's document; DataError names `where`."""
        raise NotImplementedError

    def doc_key(self, doc: dict, doc_id: int) -> str:
        return str(doc["task_id"])

    def context(self, doc: dict, doc_id: int, seed: int) -> str:
        raise NotImplementedError

    def program(self, doc: dict, completion: str) -> Program:
        raise NotImplementedError

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[GenerateRequest]:
        p = self.protocol
        prompt = self.context(doc, doc_id, seed)
        return [GenerateRequest(prompt, p.until, p.max_new_tokens, temperature, p.top_p, p.n, seed)
                for temperature in (p.pass1_temperature, p.sample_temperature)]

    def scorers(self) -> dict[str, dict]:
        return {"code_execution": {"timeout_s": self.protocol.timeout_s}}

    def scorer_inputs(self, scorer: str, doc: dict, answer: Answer) -> list[Program]:
        return [self.program(doc, text) for text in answer.result.texts]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        """answers: the greedy-temperature request, then the sampling one, each with one run per completion."""
        greedy, sampled = answers
        greedy_runs, sampled_runs = greedy.judgements["code_execution"], sampled.judgements["code_execution"]
        metrics = {"pass@1": sum(r.passed for r in greedy_runs) / len(greedy_runs)}
        if len(sampled_runs) >= self.protocol.k:
            metrics[f"pass@{self.protocol.k}"] = pass_at_k(len(sampled_runs), sum(r.passed for r in sampled_runs),
                                                           self.protocol.k)
        every_run = greedy_runs + sampled_runs
        extra = {"task_id": self.doc_key(doc, doc_id),
                 "completions": list(greedy.result.texts) + list(sampled.result.texts),
                 "temperatures": [greedy.request.temperature] * len(greedy_runs)
                 + [sampled.request.temperature] * len(sampled_runs),
                 "passed": [r.passed for r in every_run],
                 "reasons": [r.reason if not r.detail else f"{r.reason}: {r.detail}" for r in every_run],
                 "isolation": sorted({r.isolation for r in every_run})}
        if self.protocol.num_fewshot:  # every shot is rendered; the window may cut some (evalkit/shots.py)
            extra["num_fewshot"] = self.protocol.num_fewshot
        return SampleResult(doc_id=doc_id, prompt=greedy.request.context, target=self.reference(doc),
                            prediction=greedy.result.texts[0] if greedy.result.texts else "", metrics=metrics,
                            extra=extra)

    def reference(self, doc: dict) -> str:
        """The benchmark's reference solution (the `target` of each sample)."""
        raise NotImplementedError

    def aggregate(self, samples: list[SampleResult]) -> dict[str, float]:
        """pass@1 and pass@k over problems; pass@k only when every problem has k samples at 0.8."""
        metrics = {}
        for key, temperature in (("pass@1", self.protocol.pass1_temperature),
                                 (f"pass@{self.protocol.k}", self.protocol.sample_temperature)):
            passed = [[ok for ok, t in zip(s.extra["passed"], s.extra["temperatures"]) if t == temperature]
                      for s in samples]
            value = mean_pass_at_k(passed, 1 if key == "pass@1" else self.protocol.k)
            if value is not None:
                metrics[key] = value
        return metrics
