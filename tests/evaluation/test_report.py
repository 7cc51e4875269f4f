"""The HTML report: rendered from a results dict, opened from disk in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from staa.evaluation.curves import CurvePoint, plot
from staa.evaluation.figures import plot_example, write_listening_files
from staa.evaluation.report import render_report, write_report
from staa.evaluation.summary import summary_table
from staa.evaluation.tables import write_tables

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


class _Collector(HTMLParser):
    """Tags with their attributes, and the text of every table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_cell = tag == "td"
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def _parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


@pytest.fixture
def report_dir(tmp_path, fake_results):
    """An experiment folder with tables, one example's figure and WAVs, and report.html."""
    rng = np.random.default_rng(0)
    clean = (0.3 * rng.standard_normal(8000)).astype(np.float32)
    adversarial = clean + np.where(np.arange(8000) % 8 == 0, 0.05, 0).astype(np.float32)
    plot_example(clean, adversarial, tmp_path / "figures" / "ex.png")
    audio = write_listening_files(tmp_path / "audio" / "ex", clean, adversarial)
    fake_results["examples"] = [
        {
            "threat": "Emo18",
            "attacker": "staa",
            "label": "STAA-Net",
            "split": "test",
            "index": 3,
            "path": "a<b>.wav",
            "true_class": "a",
            "clean_class": "a",
            "adv_class": "b",
            "snr_db": 17.0,
            "snr_db_text": "17.00",
            "sparsity_pct": 12.5,
            "figure": "figures/ex.png",
            "audio": {k: p.relative_to(tmp_path).as_posix() for k, p in audio.items()},
        }
    ]
    tables = write_tables(fake_results, tmp_path / "tables")
    write_report(tmp_path, fake_results, tables)
    return tmp_path, tables


def test_report_links_are_relative_and_exist(report_dir):
    directory, tables = report_dir
    html = (directory / "report.html").read_text()
    parsed = _parse(html)
    links = [a.get("src") or a.get("href") for t, a in parsed.tags if t in ("img", "audio", "a")]
    assert links and all(not re.match(r"^(/|[a-z]+:)", link) for link in links)  # nothing absolute, nothing remote
    assert all((directory / link).exists() for link in links if link != "results.json")
    assert "a&lt;b&gt;.wav" in html  # values are escaped


def test_report_lists_every_table_cell_after_the_summary(report_dir, fake_results):
    directory, tables = report_dir
    parsed = _parse((directory / "report.html").read_text())
    summary = summary_table(fake_results)
    assert parsed.cells == [cell for t in [summary, *tables] for row in t.rows for cell in row]
    assert render_report(fake_results, tables).count("<table>") == len(tables) + 1


def test_the_full_tables_are_collapsible(report_dir):
    directory, tables = report_dir
    parsed = _parse((directory / "report.html").read_text())
    folded = [a["id"] for t, a in parsed.tags if t == "details"]
    assert folded == [t.name for t in tables] and all("open" not in a for t, a in parsed.tags if t == "details")


def test_report_shows_the_curve_figures_in_their_own_section(tmp_path, fake_results, fake_curves):
    fake_results["curves"] = {**fake_curves, "figures": {"emo18": "figures/curves-emo18.png"}}
    plot([CurvePoint(p["label"], p["victim"], p["budget"], p["sparsity_pct"], p["asr"], p["n_clips"], p["robust_accuracy"],
                     p["point"]) for p in fake_curves["points"]], tmp_path / "figures" / "curves-emo18.png")  # fmt: skip
    tables = write_tables(fake_results, tmp_path / "tables")
    html = write_report(tmp_path, fake_results, tables).read_text()
    parsed = _parse(html)
    section = html[html.index('<section id="curves">') : html.index("</section>", html.index('<section id="curves">'))]
    assert "Success versus sparsity" in section and "k = 1, 10, 100" in section
    assert [a["src"] for t, a in parsed.tags if t == "img"] == ["figures/curves-emo18.png"]
    links = [a["href"] for t, a in parsed.tags if t == "a" and "curves" in a.get("href", "")]
    assert links == ["tables/curves.csv", "tables/curves.md", "tables/curves.tex"]
    assert all((tmp_path / link).exists() for link in links)
    # the figure's numbers are linked, not printed as one more HTML table (the summary is one)
    assert html.count("<table>") == len(tables) and "budget sweep" not in parsed.cells


def test_report_opens_with_the_figure_and_the_summary(tmp_path, fake_results, fake_curves):
    fake_results["curves"] = {**fake_curves, "figures": {"emo18": "figures/curves-emo18.png"}}
    tables = write_tables(fake_results, tmp_path / "tables")
    html = render_report(fake_results, tables)
    figure, summary = html.index('<img src="figures/curves-emo18.png"'), html.index('<section id="summary">')
    first_table = html.index("<details")
    assert figure < summary < html.index("<table>", summary) < first_table
    assert html.index("<table>") > summary  # no table comes before the summary
    parsed = _parse(html[summary:first_table])
    rows = [r for r in fake_results["attacks"] if r["split"] == "test" and r["group"] in ("comparison", "control")]
    width = len(summary_table(fake_results).columns)
    assert len(parsed.cells) == len(rows) * width  # one row per attacker
    assert [parsed.cells[i * width + 1] for i in range(len(rows))] == [r["label"] for r in rows]
    assert parsed.cells[2] == f"{100 * rows[0]['asr'][rows[0]['threat']]:.2f}"  # threat ASR of the first attacker


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium(report_dir, tmp_path_factory):
    directory, tables = report_dir
    profile = tmp_path_factory.mktemp("chromium-profile")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--dump-dom",
        (directory / "report.html").resolve().as_uri(),
    ]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = _parse(dom)
    assert sum(t == "table" for t, _ in parsed.tags) == len(tables) + 1  # the summary, then every table
    players = [a for t, a in parsed.tags if t == "audio"]
    assert [p["src"] for p in players] == [
        "audio/ex/clean.wav",
        "audio/ex/adversarial.wav",
        "audio/ex/perturbation.wav",
    ]
    assert all("controls" in p for p in players)
    assert [a["src"] for t, a in parsed.tags if t == "img"] == ["figures/ex.png"]
    assert "82.71" in parsed.cells and "STAA-Net" in parsed.cells  # the attack table's numbers made it to the DOM


def test_report_warns_of_audible_rows_and_reads_the_mask_controls(fake_results):
    readings = {
        "audible_snr_db": 20.0,
        "positions": [
            {
                "threat": "emo18",
                "split": "test",
                "text": "STAA-Net (30.0 %): positions not shown to matter (+0.0 points).",
            }
        ],
        "audible": [{"threat": "emo18", "attacker": "pgd", "label": "PGD", "split": "test", "snr_db_median": 15.5}],
    }
    html = render_report({**fake_results, "eps_db": 26, "readings": readings}, [])
    assert "Audible:</strong> PGD on Emo18 (test): median SNR\n    15.5 dB" in html
    assert "positions not shown to matter" in html and "ε 26 dB under each" in html
    assert "Readings" not in render_report(fake_results, [])
