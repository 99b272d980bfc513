"""The code_execution scorer: runs each program (a completion with the benchmark's tests) in the box.

One judgement per program: the box's ExecResult (passed or the reason it failed, the isolation in
force). A program that fails is a verdict; a box that cannot run programs at all is a ScorerError.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from evalkit.errors import ScorerError
from evalkit.execution.box import ExecResult, Limits, Program, run_programs


class CodeExecution:
    name = "code_execution"
    version = "3"  # 3: the third-round box (nobody on the host, seccomp allow-list, bounded answers)
    judgement_type = ExecResult

    def __init__(self, limits: Limits, workers: int | None = None, progress: bool = True, desc: str = "executing"):
        self.limits, self.workers, self.progress, self.desc = limits, workers, progress, desc

    def input_key(self, program: Program) -> str:
        return json.dumps([dataclasses.asdict(program), dataclasses.asdict(self.limits)], sort_keys=True)

    def judge(self, programs: list[Program]) -> list[ExecResult]:
        if not programs:
            return []
        try:
            return run_programs(programs, self.limits, self.workers, progress=self.progress, desc=self.desc)
        except OSError as error:
            raise ScorerError(f"code execution: the box could not run programs ({error})") from error

    def summary(self, judgements: list[ExecResult]) -> dict[str, Any]:
        return {"isolation": sorted({j.isolation for j in judgements})}


def load(settings: dict[str, Any], progress: bool = True, desc: str = "executing") -> CodeExecution:
    """settings: the task's `scorers()["code_execution"]`, e.g. {"timeout_s": 3.0}."""
    return CodeExecution(Limits(**settings), progress=progress, desc=desc)
