"""Reading a checkpoint's JSON config (params.json, config.json): every failure becomes one CheckpointError."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from evalkit.errors import CheckpointError


@contextmanager
def config_errors(path: Path):
    """Turn what a malformed config raises while it is read and interpreted into one line naming `path`."""
    try:
        yield
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
    except KeyError as error:
        raise CheckpointError(f"{path}: missing field {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{path}: bad value ({error})") from None
