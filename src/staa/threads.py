"""CPU threads of a training run: a setting, applied for the run and restored after it.

PyTorch starts as many intra-op threads as the machine has cores. For the small batches of SER
training on a CPU that buys little (about 1.2x from a second core on a quiet 2-core machine) and costs
much when processes compete: two trainings with two threads each on two cores measured 167 s per Emo18
epoch instead of 16 s (issue 14), because every operation waits for the thread another process
preempted. One thread per training is therefore the default: on a quiet machine it gives up a little,
on a shared one it avoids the collapse; run one training per core to use them all. ``benchmarks/
threads.py`` measures both cases on the machine at hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from staa.errors import ConfigError

DEFAULT_THREADS = 1


def check_threads(threads: int | None) -> None:
    """``None`` (leave torch's setting) or a positive count."""
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be ≥ 1 (or null to keep torch's setting), got {threads}")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads (``None``: as they are); restore them afterwards.

    Yields the number in force, for the run's record.
    """
    check_threads(threads)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
