"""One progress helper: a rich bar on a terminal, plain log lines otherwise, nothing when not wanted.

A bar redrawn in place means nothing in a log file (it used to leave blank lines for minutes), so
when stderr is not a terminal each loop writes a line at least every :data:`LOG_INTERVAL` seconds and
one when it ends: ``epoch 3/30: 120/120 in 41 s`` is a line per epoch, ``pgd: crafting: 4/9 in 12 s``
a line per chunk of a long crafting run.

A loop over batches passes ``sizes`` (the clips of each batch) and ``unit="clips"``: the bar and the lines
then count clips and show the rate, ``epoch 3/30: 120/120 clips in 41 s (2.9 clips/s)``. SER training
(plain and adversarial) does; a generator's epoch loop should do the same.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")

LOG_INTERVAL = 10.0  # seconds between two log lines of one loop when stderr is not a terminal
_shown = 0  # enabled progress loops running now: loops inside them (:func:`inner`) report too


def progress(
    items: Iterable[T],
    description: str,
    enabled: bool = True,
    total: int | None = None,
    *,
    sizes: Sequence[int] | None = None,
    unit: str | None = None,
) -> Iterator[T]:
    """Iterate ``items`` showing progress on stderr when ``enabled`` (a bar on a terminal, else lines).

    ``sizes``: how many units each item holds (e.g. the clips of each batch); progress then counts units
    and, with ``unit`` named, shows the rate (``12.3 clips/s``).
    """
    if not enabled:
        yield from items
        return
    global _shown
    _shown += 1
    try:
        yield from _shown_progress(items, description, total, sizes, unit)
    finally:
        _shown -= 1


def inner(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """A long loop inside one item of a shown loop (an attack's queries on one chunk of clips): a line every
    :data:`LOG_INTERVAL` seconds, so that minutes of work are never silent; nothing when no loop is shown."""
    if not _shown:
        yield from items
        return
    yield from logged(items, description, total, LOG_INTERVAL, final=False)


def _shown_progress(items: Iterable[T], description: str, total: int | None, sizes: Sequence[int] | None,
                    unit: str | None) -> Iterator[T]:  # fmt: skip
    if sizes is not None:
        total = sum(sizes)
    elif total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not sys.stderr.isatty():
        yield from logged(items, description, total, sizes=sizes, unit=unit)
        return
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    if unit is not None:
        cols.append(TextColumn("{task.fields[rate]}"))
    with Progress(*cols, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total, rate="")
        for i, item in enumerate(items):
            yield item
            bar.advance(task, sizes[i] if sizes is not None else 1)
            speed = bar.tasks[0].speed  # the only task of this bar
            if unit is not None and speed:
                bar.update(task, rate=f"{speed:.1f} {unit}/s")


def logged(
    items: Iterable[T],
    description: str,
    total: int | None,
    interval: float = LOG_INTERVAL,
    *,
    sizes: Sequence[int] | None = None,
    unit: str | None = None,
    final: bool = True,
) -> Iterator[T]:
    """Iterate ``items``, printing ``description: done/total in N s`` every ``interval`` seconds and at the
    end (without ``final``, only if a line was printed before); with ``sizes`` and ``unit``, ``done`` counts
    units and the line ends with their rate."""
    start = last = time.monotonic()
    done = 0
    of = f"/{total}" if total is not None else ""
    named = f" {unit}" if unit else ""

    def line(now: float, end: str) -> str:
        rate = f" ({done / (now - start):.1f} {unit}/s)" if unit and now > start else ""
        return f"{description}: {done}{of}{named}{end} in {now - start:.0f} s{rate}"

    for i, item in enumerate(items):
        yield item
        done += sizes[i] if sizes is not None else 1
        now = time.monotonic()
        if now - last >= interval:
            print(line(now, ""), file=sys.stderr, flush=True)
            last = now
    if final or last > start:
        print(line(time.monotonic(), " done"), file=sys.stderr, flush=True)
