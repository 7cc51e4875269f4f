"""The HTML report: what a reader wants first, then every table, Fig. 3 examples and audio players, in one
self-contained page.

The page opens with the ASR-versus-sparsity figures (when the experiment swept budgets) and one compact
summary table (:func:`staa.evaluation.summary.summary_table`: per attacker, threat and transfer ASR,
sparsity, SNR and seconds per clip), since together they answer which attack wins at which budget. The
paper's full tables follow, each folded in a ``<details>`` element so the page stays short.

The page lives in the experiment folder and links figures, WAVs, tables and ``results.json`` by
relative paths, so it opens straight from disk (``file://``) or from any static web server, and the
folder can be moved or archived as a whole. Nothing is fetched from the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from staa.evaluation.summary import summary_table
from staa.evaluation.tables import Table
from staa.io.outputs import write_text

REPORT_NAME = "report.html"


def render_report(results: dict[str, Any], tables: list[Table], title: str | None = None) -> str:
    """The report's HTML for ``results`` (the ``results.json`` dict) and its tables: the curve figures, the
    summary table, then ``tables`` (each collapsible)."""
    env = Environment(loader=PackageLoader("staa.evaluation", "templates"), autoescape=select_autoescape(["html"]))
    page = env.get_template(REPORT_NAME)
    summary = summary_table(results) if results.get("attacks") else None
    return page.render(
        results=results, tables=tables, summary=summary, title=title or f"staa report: {results['experiment']}"
    )


def write_report(directory: str | Path, results: dict[str, Any], tables: list[Table]) -> Path:
    """Write ``report.html`` atomically into the experiment folder ``directory``."""
    path = Path(directory) / REPORT_NAME
    write_text(path, render_report(results, tables))
    return path
