"""The HTML report: the paper's tables, Fig. 3 examples and audio players, in one self-contained page.

The page lives in the experiment folder and links figures, WAVs, tables and ``results.json`` by
relative paths, so it opens straight from disk (``file://``) or from any static web server, and the
folder can be moved or archived as a whole. Nothing is fetched from the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from staa.evaluation.tables import Table
from staa.io.outputs import write_text

REPORT_NAME = "report.html"


def render_report(results: dict[str, Any], tables: list[Table], title: str | None = None) -> str:
    """The report's HTML for ``results`` (the ``results.json`` dict) and its tables."""
    env = Environment(loader=PackageLoader("staa.evaluation", "templates"), autoescape=select_autoescape(["html"]))
    page = env.get_template(REPORT_NAME)
    return page.render(results=results, tables=tables, title=title or f"staa report: {results['experiment']}")


def write_report(directory: str | Path, results: dict[str, Any], tables: list[Table]) -> Path:
    """Write ``report.html`` atomically into the experiment folder ``directory``."""
    path = Path(directory) / REPORT_NAME
    write_text(path, render_report(results, tables))
    return path
