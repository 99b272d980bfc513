"""The wheel's layout (metadata is in pyproject.toml): evalkit's packages, and the checkout's tasks/,
prompts/ and reports/ installed under evalkit as evalkit._tasks, evalkit._prompts and evalkit._reports,
so that installing evalkit claims no top-level module name but `evalkit` (evalkit/layout.py finds them)."""
from setuptools import find_namespace_packages, setup

BESIDE = {"evalkit._tasks": "tasks", "evalkit._prompts": "prompts", "evalkit._reports": "reports"}

setup(
    packages=find_namespace_packages(include=["evalkit", "evalkit.*"]) + list(BESIDE),
    package_dir=BESIDE,
    package_data={"evalkit": ["assets/**/*", "report/templates/*.jinja"], "evalkit._prompts": ["*.jinja", "*.json"],
                  "evalkit._reports": ["*.json"]},
)
