"""The engine: batching, shared contexts, n samples; it serves requests (evalkit.requests) with the model."""
from evalkit.engine.engine import Engine
from evalkit.engine.stats import EngineStats

__all__ = ["Engine", "EngineStats"]
