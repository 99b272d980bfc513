"""Executing generated code: the box (box.py; sandbox.py, the containment; _wire.py, _candidate.py and
_tester.py, the two processes inside)."""
from evalkit.execution.box import ExecResult, Limits, Program, allow_unsafe_execution, run_programs
from evalkit.execution.sandbox import ContainmentMissing, Sandbox, find_sandbox

__all__ = ["ContainmentMissing", "ExecResult", "Limits", "Program", "Sandbox", "allow_unsafe_execution",
           "find_sandbox", "run_programs"]
