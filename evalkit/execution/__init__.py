"""Executing generated code: the box (box.py, with _child.py inside it)."""
from evalkit.execution.box import ExecResult, Limits, Program, run_program, run_programs

__all__ = ["ExecResult", "Limits", "Program", "run_program", "run_programs"]
