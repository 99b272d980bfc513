"""evalkit: reproduce the LLaMA paper's benchmark tables with a bundled, efficient LLaMA."""
from evalkit.api import evaluate  # the Python API; evalkit/api.py
from evalkit.version import __version__

__all__ = ["__version__", "evaluate"]
