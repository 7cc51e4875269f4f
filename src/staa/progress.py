"""One progress helper: a rich bar on a terminal, plain log lines otherwise, nothing when not wanted.

A bar redrawn in place means nothing in a log file (it used to leave blank lines for minutes), so
when stderr is not a terminal each loop writes a line at least every :data:`LOG_INTERVAL` seconds and
one when it ends: ``epoch 3/30: 120/120 in 41 s`` is a line per epoch, ``pgd: crafting: 4/9 in 12 s``
a line per chunk of a long crafting run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")

LOG_INTERVAL = 10.0  # seconds between two log lines of one loop when stderr is not a terminal


def progress(items: Iterable[T], description: str, enabled: bool = True, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` showing progress on stderr when ``enabled`` (a bar on a terminal, else lines)."""
    if not enabled:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not sys.stderr.isatty():
        yield from logged(items, description, total)
        return
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def logged(items: Iterable[T], description: str, total: int | None, interval: float = LOG_INTERVAL) -> Iterator[T]:
    """Iterate ``items``, printing ``description: done/total in N s`` every ``interval`` seconds and at the end."""
    start = last = time.monotonic()
    done = 0
    of = f"/{total}" if total is not None else ""
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= interval:
            print(f"{description}: {done}{of} in {now - start:.0f} s", file=sys.stderr, flush=True)
            last = now
    print(f"{description}: {done}{of} done in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
