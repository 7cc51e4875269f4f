"""A table with two-level headers rendered as Markdown, CSV and LaTeX, and the number formats of every table.

:class:`Table` keeps (group, sub-column) headers so that each format can render them natively: merged
cells in LaTeX and HTML, "group sub" names in Markdown and CSV. The formats print a value that does not
exist as :data:`MISSING` ("–"), never as 0; a rate with its 95 % bootstrap interval as ``62.5 ± 8.1``
(:func:`rate`), one without with the paper's two decimals (:func:`percent`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from staa.io.outputs import write_text

MISSING = "–"
SPLIT_NAMES = {"train": "Train", "val": "Val", "test": "Test"}


@dataclass
class Table:
    """A rectangular table with two-level headers: ``columns`` are (group, name) pairs."""

    name: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[list[str]] = field(default_factory=list)

    def flat_columns(self) -> list[str]:
        return [f"{g} {c}".strip() for g, c in self.columns]

    def header_groups(self) -> list[tuple[str, int]]:
        """Consecutive columns sharing a group, as (group, span) — merged header cells."""
        spans: list[tuple[str, int]] = []
        for group, _ in self.columns:
            if spans and spans[-1][0] == group and group:
                spans[-1] = (group, spans[-1][1] + 1)
            else:
                spans.append((group, 1))
        return spans

    def markdown(self) -> str:
        head = self.flat_columns()
        lines = [f"**{self.title}**", "", _md_row(head), _md_row(["---"] * len(head))]
        lines += [_md_row(r) for r in self.rows]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.flat_columns())
        writer.writerows(self.rows)
        return buf.getvalue()

    def latex(self) -> str:
        n = len(self.columns)
        groups = self.header_groups()
        top, rules, col = [], [], 1
        for group, span in groups:
            top.append(rf"\multicolumn{{{span}}}{{c}}{{{_tex(group)}}}" if span > 1 else _tex(group))
            if group and span > 1:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{_tex(self.title)}}}",
            rf"\begin{{tabular}}{{ll{'r' * (n - 2)}}}" if n > 2 else rf"\begin{{tabular}}{{{'l' * n}}}",
            r"\toprule",
            " & ".join(top) + r" \\",
            *([" ".join(rules)] if rules else []),
            " & ".join(_tex(c) for _, c in self.columns) + r" \\",
            r"\midrule",
            *(" & ".join(_tex(v) for v in row) + r" \\" for row in self.rows),
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ]
        return "\n".join(lines) + "\n"

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``<name>.md``, ``<name>.csv`` and ``<name>.tex`` atomically; return their paths."""
        paths = []
        for ext, text in (("md", self.markdown()), ("csv", self.csv()), ("tex", self.latex())):
            path = Path(directory) / f"{self.name}.{ext}"
            write_text(path, text)
            paths.append(path)
        return paths


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
}


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


# ---- number formatting ---------------------------------------------------------------------------
def percent(v: float | None) -> str:
    """A rate in [0, 1] as a percentage with two decimals, as in the paper."""
    return MISSING if v is None else f"{100 * v:.2f}"


def decimals(v: float | None) -> str:
    return MISSING if v is None else f"{v:.2f}"


def seconds(v: float | None) -> str:
    """Two decimals from 1 s up; three significant digits below, so 0.004 s does not print as 0.00."""
    if v is None:
        return MISSING
    return f"{v:.2f}" if v >= 0.995 else f"{v:.3g}"


def plus_minus(value: float | None, spread: float | None, digits: int = 1) -> str:
    """A rate in [0, 1] with its uncertainty (a bootstrap half-width or an sd over seeds) as percentages,
    ``62.5 ± 8.1``: one decimal by default, since a few dozen clips do not support two."""
    if value is None or math.isnan(value):
        return MISSING
    if spread is None or math.isnan(spread):
        return f"{100 * value:.{digits}f}"
    return f"{100 * value:.{digits}f} ± {100 * spread:.{digits}f}"


def over_seeds(row: Mapping[str, Any], victim: str) -> str:
    """A row of the ``attack_seeds`` section at ``victim``: the ASR's mean ± sd over the seeds (one seed, a
    deterministic attacker or a control: the mean alone)."""
    s = row["asr"].get(victim)
    return MISSING if s is None else plus_minus(s["mean"], s["sd"] if row["n_seeds"] > 1 else None)


def rate(value: float | None, interval: Mapping[str, Any] | None) -> str:
    """``value`` with the half-width of its interval when there is one (``62.5 ± 8.1``), else :func:`percent`."""
    if interval is None:
        return percent(value)
    return plus_minus(value, interval.get("half_width"))


def interval_note(clips: str) -> str:
    """What ``±`` means in a title whose rates carry intervals: ``clips`` as :func:`clip_counts` writes it."""
    return f"± half-width of the 95 % bootstrap interval over {clips}"


def clip_counts(counts: Mapping[str, int | None]) -> str:
    """``"58 val, 49 test clips"``: what the percentages of a table rest on."""
    known = [f"{n} {split}" for split, n in counts.items() if n is not None]
    return f"{', '.join(known)} clips" if known else ""


def mean_of(summary: dict[str, Any] | None) -> float | None:
    return None if summary is None else summary.get("mean")
