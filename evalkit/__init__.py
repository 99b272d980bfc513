"""evalkit: reproduce the LLaMA paper's benchmark tables with a bundled, efficient LLaMA."""
__version__ = "0.1.0"
