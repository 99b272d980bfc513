"""Executing generated code: the box (box.py, with _child.py inside it) and generations files."""
from evalkit.execution.box import ExecResult, Limits, Program, run_program, run_programs
from evalkit.execution.generations import load_generations, save_generations

__all__ = ["ExecResult", "Limits", "Program", "run_program", "run_programs", "load_generations",
           "save_generations"]
