"""A text lint over the built pages, English and Chinese: what a careful reader would flag.

- no missing space after the end of a sentence;
- no internal run id in prose (a reader sees "slope = 5, lr = 0.057", never "slope-lr__slope-5__lr-0.057");
- no "nan" or "inf" shown as text;
- no ASCII punctuation between Han characters;
- every number an explanation states is a value of results.json, at the precision it is stated with.
And the general sentences follow this build's numbers: a rule is stated where it holds, its counter-case shown
where it fails.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from conftest import TINY, build_project

from reportgen.core.formatting import fixed, num, param

#: Elements whose text is code or a captured message, not the report's prose.
CODE = {"pre", "code", "script", "style", "head"}
#: Elements a reader sees apart from their neighbours: their texts never run together.
APART = {"p", "li", "td", "th", "tr", "caption", "div", "section", "h1", "h2", "h3", "h4", "dt", "dd", "figcaption", "br"}
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.]*\w)")


class Prose(HTMLParser):
    """Collect a page's prose (code left out), and the text of every element marked data-run, by run."""

    def __init__(self) -> None:
        super().__init__()
        self.prose: list[str] = []
        self.runs: list[tuple[str, str, list[str]]] = []  # (element class, run id, its text)
        self.code = 0
        self.stack: list[tuple[str, int | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in CODE:
            self.code += 1
        marked = None
        if "data-run" in attrs:
            self.runs.append((attrs.get("class") or attrs.get("id") or tag, attrs["data-run"], []))
            marked = len(self.runs) - 1
        self.stack.append((tag, marked))
        if tag in APART:
            self.handle_data(" ")
        for key in ("alt", "aria-label", "title"):
            if attrs.get(key):
                self.prose.append(attrs[key])

    def handle_endtag(self, tag):
        if tag in CODE:
            self.code -= 1
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.code and data != " ":
            return
        self.prose.append(data)
        for _, marked in self.stack:
            if marked is not None:
                self.runs[marked][2].append(data)


def parse(html: str) -> Prose:
    parser = Prose()
    parser.feed(html)
    return parser


def pages(project) -> dict[str, tuple[str, dict]]:
    out = {}
    for lang in ("en", "zh-CN"):
        folder = project.site / lang
        out[lang] = ((folder / "index.html").read_text("utf-8"), json.loads((folder / "results.json").read_text()))
    return out


@pytest.fixture(scope="module", params=["en", "zh-CN"])
def page(request, tiny_both):
    html, doc = pages(tiny_both)[request.param]
    return request.param, parse(html), doc


def test_no_sentence_runs_into_the_next(page):
    _, prose, _ = page
    text = " ".join("".join(prose.prose).split())
    assert not re.findall(r".{20}[a-z0-9)\]][.!?][A-Z][a-z].{10}", text)


def test_no_internal_run_id_in_prose(page):
    _, prose, doc = page
    text = "".join(prose.prose)
    leaked = [r["id"] for r in doc["runs"] if r["id"] in text]
    assert leaked == [] and not re.search(r"\w+__\w+-", text)


def test_no_nan_or_inf_as_text(page):
    _, prose, _ = page
    assert not re.findall(r"\b(?:nan|inf|infinity)\b", "".join(prose.prose), re.I)


def test_no_ascii_punctuation_between_han_characters(page):
    lang, prose, _ = page
    text = "".join(prose.prose)
    assert re.findall(r"[\u4e00-\u9fff]", text) or lang == "en"
    assert not re.findall(r".{6}[\u4e00-\u9fff] ?[,.;:!?] ?[\u4e00-\u9fff].{6}", text)


def flat_numbers(value) -> list[float]:
    """Every number inside a results.json value (the loss history left out: any loss would match it)."""
    if isinstance(value, dict):
        return [n for k, v in value.items() if k != "loss_history" for n in flat_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in flat_numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return []


def stated_as(token: str, value: float) -> bool:
    """True when ``value`` written at the precision of ``token`` gives ``token``."""
    if param(value) == token or str(value) == token:
        return True
    digits = len(token.lstrip("-").replace(".", "").split("e")[0].lstrip("0")) or 1
    return num(value, digits) == token or (isinstance(value, int) and num(float(value), digits) == token)


def test_every_number_an_explanation_states_is_in_results_json(page):
    _, prose, doc = page
    runs = {r["id"]: r for r in doc["runs"]}
    extra = flat_numbers(doc.get("explanations", {}))
    checked = 0
    assert prose.runs, "no explanation is marked with data-run"
    for where, run_id, parts in prose.runs:
        values = flat_numbers(runs[run_id]) + (extra if where != "why" else [])
        text = " ".join("".join(parts).split())
        for token in NUMBER.findall(text):
            if token.lstrip("-").isdigit() and int(token) < 3:
                continue  # the 1 of 1 − lr·λ, the 2 of 2/λmax: formulas, not measurements
            assert any(stated_as(token, v) for v in values), f"{where} of {run_id}: {token} is in no value of results.json"
            checked += 1
    assert checked > 20


# --------------------------------------------------------------------------- rules decided per case


def counter_case(html: str) -> list[str]:
    return re.findall(r'<p class="finding counter">(.*?)</p>', html, re.S)


def test_the_slope_rule_and_its_counter_case_follow_the_runs(tiny_both):
    html, doc = pages(tiny_both)["en"]
    runs = {r["id"]: r for r in doc["runs"]}
    falls = [runs[f"grid__slope-{s}__lr-0.05"]["stop_iteration"] for s in (1, 3, 5)]
    rises = [runs[f"grid__slope-{s}__lr-0.057"]["stop_iteration"] for s in (1, 3, 5)]
    assert falls == sorted(falls, reverse=True) and rises == sorted(rises) and rises[0] < rises[-1]
    assert "The stop iteration falls as the slope grows at lr = 0.05." in html
    (counter, *_) = counter_case(html)
    assert "At lr = 0.057 the stop iteration does not fall as the slope grows" in counter
    assert "the fast mode sets the count" in counter and "lr = 0.057 the stop iteration falls" not in html


def test_a_build_where_the_rule_holds_claims_it_and_shows_no_counter_case(tmp_path):
    holds = TINY.replace("lr = [0.05, 0.057]", "lr = [0.05]").replace('animate = "none"', 'animate = "none"\n')
    html = build_project(tmp_path, holds.replace("[render]\n", "[render]\nformats = []\n")).html
    assert counter_case(html) == []
    # lr has one value here: a setting of the sweep, not a dimension, so the sentence names no lr.
    assert "Here the stop iteration falls as the slope grows: " in html
    assert "The rule fails" not in html


def test_a_frames_large_number_is_written_as_the_tables_write_it():
    """A diverging run's frame said L(w, b) = 7535000 where its table said 7.535e6."""
    assert fixed(7_535_000.0) == num(7_535_000.0) == "7.535e6"
    assert fixed(2.0738993) == "2.0739" and fixed(-0.5) == "-0.5000"  # below 1e5: four decimals, steady in a frame
