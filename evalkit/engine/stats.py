"""What the engine has done so far: cumulative counters, read by the runner and the benchmarks."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class EngineStats:
    requests_served: int = 0    # requests answered, duplicates included
    requests_computed: int = 0  # distinct token-level requests (or generation prompts) actually computed
    tokens_forwarded: int = 0   # real tokens passed through the transformer (padding excluded)
    padding_tokens: int = 0     # padded slots forwarded alongside them
    forward_calls: int = 0
    contexts_reused: int = 0    # continuations scored against a context computed once for several
    prefix_tokens_reused: int = 0  # context tokens not forwarded again thanks to a shared prefix
    samples_generated: int = 0
    tokens_generated: int = 0
    oom_retries: int = 0        # batches retried with half the token budget (batch_size="auto")
    peak_cache_bytes: int = 0   # most KV-cache bytes alive at once in a generation batch (fork included)
    scored_positions: int = 0   # positions whose vocab logits scoring computed (the output layer's rows)
    scoring_seconds: float = 0.0  # wall seconds inside loglikelihood scoring: planning, forwards, log-softmax

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def count_forward(self, mask) -> None:
        """Count one forward of a (B, T) real-token mask."""
        self.count_step(int(mask.sum()), mask.numel())

    def count_step(self, real: int, slots: int) -> None:
        """Count one forward of `slots` token slots of which `real` hold real tokens."""
        self.count_steps(1, real, slots)

    def count_steps(self, calls: int, real: int, slots: int) -> None:
        """Count `calls` forwards of `slots` token slots in all, of which `real` hold real tokens."""
        self.forward_calls += calls
        self.tokens_forwarded += real
        self.padding_tokens += slots - real
