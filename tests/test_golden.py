"""The tiny project's results.json and the page's visible text, against files committed in tests/golden/.

A change to the numbers or to the words of the page shows up here as a diff to
read. Floats in results.json are compared to a relative 1e-6, not as text: LAPACK and
torch pick other kernels on other CPUs (AVX2 or AVX-512, Intel or AMD), which moves the
last digits of a float64 (b_star 4.803176723877546 on one machine, ...555 on another) and
can move a float32 loss by an ulp. Integers, strings and the document's shape compare
exactly. When the change is intended, update the files and commit them:

    REPORTGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen.site.views import versions

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


#: How far a float may move between CPUs (see the module's docstring).
REL_TOL, ABS_TOL = 1e-6, 1e-9


def differences(expected, actual, where: str = "$"):
    """Where ``actual`` differs from ``expected``: floats within REL_TOL/ABS_TOL count as equal."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, (int, float)) and isinstance(actual, (int, float))
                and math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL)):
            yield f"{where}: {expected!r} -> {actual!r}"
    elif isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys()):
            if key not in actual or key not in expected:
                yield f"{where}.{key}: {'missing' if key not in actual else 'new'}"
            else:
                yield from differences(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual)):
            yield from differences(e, a, f"{where}[{i}]")
    elif expected != actual or type(expected) is not type(actual):
        yield f"{where}: {str(expected)[:60]} -> {str(actual)[:60]}"


def test_results_json_is_the_golden_one(tiny):
    document = json.loads((tiny.site / "results.json").read_text())
    path = GOLDEN / "tiny-results.json"
    if UPDATE:
        path.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
        return
    found = list(differences(json.loads(path.read_text("utf-8")), document))
    assert not found, f"{path.name} changed ({len(found)} values); if that is intended, update it (see this " \
                      "module's docstring):\n" + "\n".join(found[:20])


def test_the_golden_comparison_forgives_the_last_digits_and_nothing_else():
    base = {"b_star": 4.803176723877546, "stop": 17, "status": "stopped", "loss": [0.5, 0.25]}
    assert not list(differences(base, {**base, "b_star": 4.803176723877555}))
    assert list(differences(base, {**base, "b_star": 4.8032}))
    assert list(differences(base, {**base, "stop": 18}))
    assert list(differences(base, {**base, "status": "diverged"}))
    assert list(differences(base, {**base, "loss": [0.5]}))
    assert list(differences(base, {**base, "extra": 1}))


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
