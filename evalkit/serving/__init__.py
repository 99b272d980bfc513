"""Serving: what works for any backend (response cache, dispatch, data parallel, the OpenAI-compatible server)."""
