"""Progress of request serving on stderr: a bar (requests/s, and tokens/s where the backend counts
forwarded tokens) and a one-line summary of what came from the cache and what was computed."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class RequestsBar:
    def __init__(self, backend, total: int, enabled: bool):
        self.stats = backend.stats
        self.tokens_before = self._tokens()
        self.start = time.perf_counter()
        self.bar = tqdm(total=total, desc="requests", unit="req", file=sys.stderr, disable=not enabled,
                        dynamic_ncols=True)

    def _tokens(self) -> int | None:
        return self.stats.as_dict().get("tokens_forwarded")

    def update(self, count: int) -> None:
        self.bar.update(count)
        if self.tokens_before is not None:
            elapsed = max(time.perf_counter() - self.start, 1e-9)
            self.bar.set_postfix_str(f"{(self._tokens() - self.tokens_before) / elapsed:.0f} tok/s")

    def close(self) -> None:
        self.bar.close()


def print_summary(total: int, unique: int, computed: int, processes: int, seconds: float) -> None:
    print(f"served {total} requests ({unique} unique): {unique - computed} from cache, {computed} computed on "
          f"{processes} process(es) in {seconds:.1f}s", file=sys.stderr)
