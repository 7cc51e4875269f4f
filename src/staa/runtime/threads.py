"""CPU threads of a run: a setting (``staa --threads``, an experiment's ``threads:``), applied for the run
and restored after it.

PyTorch starts as many intra-op threads as the machine has cores. For the small batches of SER and
generator training on a CPU that buys little and costs much when processes compete: on a shared 2-core
machine two trainings with two threads each run an epoch about ten times slower than with one thread
each (docs/results/speed.md#threads), because every operation waits for the thread another process
preempted. One thread
per process is therefore the default: on a quiet machine it gives up a little speed, on a shared one it
avoids the collapse; run one process per core to use them all, or ask for more threads on a machine of
your own (a foundation model's large matrix products do profit from them). ``benchmarks/threads.py``
measures both cases on the machine at hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from staa.defaults import DEFAULT_THREADS
from staa.errors import ConfigError

__all__ = ["DEFAULT_THREADS", "check_threads", "torch_threads"]


def check_threads(threads: Any) -> int | None:
    """``threads`` if it is ``None`` (leave torch's setting) or a count from 1 to 1024; else one error line."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
        raise ConfigError(
            f"threads: must be an integer in [1, 1024] (or null to keep torch's setting), got {threads!r}"
        )
    return threads


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads (``None``: as they are); restore them afterwards.

    Yields the number in force (``provenance`` records it as ``torch_threads``).
    """
    check_threads(threads)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
