"""The front page and the docs stay what a newcomer can read: a short README, links that resolve, no issue
numbers in user docs or code, and a package that never imports the research probes or the benchmarks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "research" / "README.md"]
MAX_README_LINES = 200

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
ISSUE = re.compile(r"\bissues? *#?\d+", re.I)


def _links(path: Path) -> list[str]:
    """The targets of the Markdown links of ``path``, outside fenced code blocks."""
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters of any script kept), spaces → '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#{1,6} +(.+?) *$", text, re.M)}


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: — not checked offline
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor.lower() not in _anchors(resolved):
            broken.append(f"{target} (no heading '#{anchor}')")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_to_the_docs_and_the_results():
    targets = {t.partition("#")[0] for t in _links(README)}
    assert {"docs/architecture.md", "docs/usage.md", "docs/generators.md"} <= targets
    assert {f"docs/results/{p.name}" for p in (ROOT / "docs" / "results").glob("*.md")} <= targets


def test_no_issue_numbers_in_readme_docs_or_code():
    pages = [README, *DOCS, *(p for p in (ROOT / "src").rglob("*") if p.suffix in (".py", ".yaml", ".html", ".md"))]
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in pages
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if ISSUE.search(line)]  # fmt: skip
    assert not found, "\n".join(found)


def test_the_package_never_imports_research_or_benchmarks():
    importing = re.compile(r"^\s*(from|import)\s+(research|benchmarks|study|common)\b|sys\.path", re.M)
    found = [p.relative_to(ROOT).as_posix() for p in (ROOT / "src").rglob("*.py") if importing.search(p.read_text())]
    assert not found, f"src/ reaches into research/ or benchmarks/: {found}"
