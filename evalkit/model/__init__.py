"""The bundled LLaMA: config and presets, the transformer, its KV cache, and checkpoint loaders."""
from evalkit.model.config import PRESETS, ModelConfig, preset
from evalkit.model.kv_cache import KVCache
from evalkit.model.llama import Transformer

__all__ = ["ModelConfig", "PRESETS", "preset", "KVCache", "Transformer"]
