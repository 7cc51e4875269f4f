"""The one check of a device name, used by every command and by experiment files.

``cpu``, ``cuda``, ``cuda:N`` and ``mps`` are what staa runs on; a name torch does not know (``gpu7``), a
GPU this machine lacks (``cuda`` on a CPU-only torch, ``cuda:9`` with two GPUs) is refused in one line
before any work, instead of a traceback from deep inside the first ``.to(device)``.
"""

from __future__ import annotations

import torch

from staa.errors import ConfigError

KINDS = ("cpu", "cuda", "mps")


def check_device(device: str, what: str = "device") -> str:
    """``device`` if this machine has it; one :class:`ConfigError` line naming ``what`` otherwise."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in KINDS or (parsed.type == "cpu" and parsed.index not in (None, 0)):
        raise ConfigError(f"{what}: unknown device '{device}' (expected cpu, cuda or cuda:N)")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{what}: device '{device}' requested but CUDA is not available (use cpu)")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"{what}: device '{device}' does not exist (this machine has {count} GPU{'s' * (count != 1)}: "
                              f"cuda:0 to cuda:{count - 1})")  # fmt: skip
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{what}: device '{device}' requested but MPS is not available (use cpu)")
    return device
