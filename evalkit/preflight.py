"""Checks that run before anything is loaded or computed: the device exists, the output folder can be
written. Each failure is a UsageError (one line, exit 2), so no work is spent and then lost."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from evalkit.errors import UsageError


def check_device(device: str) -> None:
    """--device: cpu, cuda, cuda:N or mps, and present on this machine."""
    import torch
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device!r}: not a device name (cpu, cuda, cuda:N, mps)") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"--device {device}: no CUDA device on this machine (torch {torch.__version__})")
        if parsed.index is not None and parsed.index >= count:
            raise UsageError(f"--device {device}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
        return
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"--device {device}: MPS (Apple GPU) is not available on this machine")
        return
    raise UsageError(f"--device {device}: unsupported device type {parsed.type!r} (cpu, cuda, cuda:N, mps)")


def check_launched_device(device: str) -> None:
    """Under a launcher (WORLD_SIZE > 1) each rank takes its own GPU, cuda:LOCAL_RANK, from --device cuda;
    an explicit cuda:N would put every rank on GPU N."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and device.startswith("cuda:"):
        raise UsageError(f"--device {device} under a launcher would put every rank on one GPU: give --device cuda "
                         "(each rank takes the GPU of its LOCAL_RANK) and choose the GPUs with CUDA_VISIBLE_DEVICES")


def check_output_dir(path: str | Path, flag: str = "--output-dir") -> Path:
    """The folder exists or can be created, and a file can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".evalkit-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot write there ({error.strerror or error})") from None
    return path
