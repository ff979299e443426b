"""The tiny project's results.json and the page's visible text, against files committed in tests/golden/.

A change to the numbers or to the words of the page shows up here as a diff to
read. When the change is intended, update the files and commit them:

    REPORTGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen.views import versions

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("REPORTGEN_UPDATE_GOLDEN") == "1"
#: Elements whose text a reader does not see as prose.
HIDDEN = {"head", "script", "style", "template"}
BLOCKS = {"p", "h1", "h2", "h3", "h4", "li", "tr", "caption", "figcaption", "pre", "summary", "td", "th", "div",
          "header", "footer", "section", "article", "nav", "table", "details", "figure", "dt", "dd", "legend"}


class VisibleText(HTMLParser):
    """Collect the text a reader sees, one line per block, alt texts included."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = [""]
        self.hidden = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self.hidden += 1
        if tag == "pre":
            self.pre += 1
        if tag in BLOCKS:
            self.lines.append("")
        elif tag == "a":
            self.lines[-1] += " "  # links in a row, as a reader sees them apart
        alt = dict(attrs).get("alt") or dict(attrs).get("aria-label")
        if alt and not self.hidden:
            self.lines.append(f"[{tag}: {alt}]")
            self.lines.append("")

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self.hidden -= 1
        if tag == "pre":
            self.pre -= 1
        if tag in BLOCKS:
            self.lines.append("")

    def handle_data(self, data):
        if self.hidden:
            return
        if self.pre:  # code keeps its lines
            first, *rest = data.split("\n")
            self.lines[-1] += first
            self.lines.extend(rest)
        else:
            self.lines[-1] += data

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in self.lines)
        return "\n".join(line for line in lines if line) + "\n"


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return parser.text()


def machine_free(text: str, project_root: Path) -> str:
    """Mask what depends on the machine, not the project: software versions and the build's folder."""
    text = text.replace(str(project_root), "<project>")
    for name, version in versions().items():
        text = text.replace(f"\n{name}\n{version}\n", f"\n{name}\n<version>\n")  # the table's rows
        text = text.replace(f"{name} {version}", f"{name} <version>")
    return text


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, "utf-8")
        return
    assert path.exists(), f"{path} is missing: run REPORTGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    expected = path.read_text("utf-8")
    assert actual == expected, f"{name} changed; if that is intended, update it (see this module's docstring)"


def test_results_json_is_the_golden_one(tiny):
    document = json.loads((tiny.site / "results.json").read_text())
    check("tiny-results.json", json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def test_page_text_is_the_golden_one(tiny):
    check("tiny-page.txt", machine_free(visible_text(tiny.html), tiny.root))


def test_the_golden_text_sees_what_a_reader_sees(tiny):
    text = visible_text(tiny.html)
    assert "Tiny project" in text and "Thresholds" in text
    assert not re.search(r"<[a-z/!]", text)  # tags are gone, and nothing of the <head> is left
    assert "Content-Security-Policy" not in text
    stop = tiny.runs["thr__threshold-1"]["stop_iteration"]
    assert f"iteration {stop}" in text


@pytest.mark.skipif(UPDATE, reason="updating")
def test_golden_files_are_committed():
    assert sorted(p.name for p in GOLDEN.iterdir()) == ["tiny-page.txt", "tiny-results.json"]
