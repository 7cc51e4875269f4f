"""Keep freed memory in the process: glibc's ``M_TOP_PAD``, set once when a command starts.

A training or attack step on a CPU allocates activation buffers of tens of MiB and frees them before the
next step. glibc gives memory at the top of its heap back to the kernel as soon as the free space there
passes a small threshold, so the next step has every page faulted in (and zeroed) again by the kernel.
On small CPU batches that kernel time can be a large share of the CPU time of a step. Asking glibc to
keep 1 GiB of padding at the top of the heap removes almost all of it (``python benchmarks/allocator.py``
measures both side by side; docs/results/speed.md#heap-padding). The price is resident memory
that stays with the process after a peak, up to the padding; ``STAA_MALLOC_PAD_MIB=0`` turns it off.
PyTorch's own advice for CPU work is a caching allocator (jemalloc, tcmalloc) preloaded into the
process; this is the same idea without a native library to install. C libraries other than glibc
(macOS, musl) have no such setting, and nothing happens there.
"""

from __future__ import annotations

import ctypes
import os

from staa.errors import ConfigError

M_TOP_PAD = -2  # glibc's mallopt parameter number (malloc.h)
DEFAULT_PAD_MIB = 1024
PAD_ENV = "STAA_MALLOC_PAD_MIB"


def glibc() -> bool:
    """Whether this process runs on glibc (the only C library with ``M_TOP_PAD``)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def pad_from_environment() -> int:
    """``STAA_MALLOC_PAD_MIB`` (0 to 2047) when set, else :data:`DEFAULT_PAD_MIB`; one error line otherwise."""
    value = os.environ.get(PAD_ENV)
    if value is None or value.strip() == "":
        return DEFAULT_PAD_MIB
    if not value.strip().isdigit() or int(value) > 2047:
        raise ConfigError(f"{PAD_ENV}: must be a whole number of MiB from 0 to 2047, got {value!r}")
    return int(value)


def keep_freed_memory(mib: int | None = None) -> bool:
    """Ask glibc to keep ``mib`` MiB (default: :func:`pad_from_environment`) of freed memory at the top of
    its heap; 0 restores glibc's own 128 KiB. Returns whether the setting took effect."""
    mib = pad_from_environment() if mib is None else mib
    if not 0 <= mib <= 2047:  # mallopt takes a C int of bytes
        raise ConfigError(f"malloc padding must be 0 to 2047 MiB, got {mib}")
    if not glibc():
        return False
    return bool(ctypes.CDLL(None).mallopt(M_TOP_PAD, (mib * 2**20) if mib else 128 * 1024))
