"""Offline Hub at once: before the first Hub download, one quick probe of the Hub's endpoint; when it
cannot be reached, evalkit sets HF_HUB_OFFLINE and HF_DATASETS_OFFLINE, so `datasets` reads its local
cache or fails at once, instead of five retries over about 25 s ("Retrying in 8s") before the same
failure.

The probe is one HEAD request to $HF_ENDPOINT (default https://huggingface.co), through the proxies
the environment names, like the Hub clients' own requests: any HTTP answer, even an error status,
means the network reaches the Hub and nothing is changed. A user's own HF_HUB_OFFLINE or
HF_DATASETS_OFFLINE (any value) is left as it is and nothing is probed.
"""
from __future__ import annotations

import functools
import os
import sys
import urllib.error
import urllib.request

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 5.0  # a reachable Hub answers a HEAD in well under a second
OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def unreachable_reason(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why `url` cannot be reached (None when it answers at all, an HTTP error status included)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered
    except (urllib.error.URLError, OSError, ValueError) as error:  # no route, no name, refused, timed out
        reason = getattr(error, "reason", error)
        return str(reason) or type(error).__name__


@functools.cache
def offline_without_network() -> str | None:
    """Probe the Hub once per process; when it cannot be reached, switch the Hub clients offline and
    return why (for the error message), else None."""
    if any(name in os.environ for name in OFFLINE_VARS):
        return None
    reason = unreachable_reason(endpoint())
    if reason is None:
        return None
    for name in OFFLINE_VARS:
        os.environ[name] = "1"
    # the clients read these variables when imported; where one already is, tell it directly
    if (constants := sys.modules.get("huggingface_hub.constants")) is not None:
        constants.HF_HUB_OFFLINE = True
    if (config := sys.modules.get("datasets.config")) is not None:
        config.HF_HUB_OFFLINE = config.HF_DATASETS_OFFLINE = True
    return f"{endpoint()} cannot be reached ({reason})"
