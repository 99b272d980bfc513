"""evalkit: reproduce the LLaMA paper's benchmark tables with a bundled, efficient LLaMA."""
__version__ = "0.1.0"

from evalkit.api import evaluate  # noqa: E402  (the Python API; evalkit/api.py)

__all__ = ["evaluate"]
