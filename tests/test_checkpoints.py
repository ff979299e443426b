"""Predict-then-reveal checkpoints: the right option is right for this build's runs, and the feedback's numbers are theirs.

The decisions are checked against the runs by other means than the module's own (the loss history read
directly, the counts compared, results.json's numbers); a config whose answer differs gets the other answer.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from reportgen.config.grid import expand_grid
from reportgen.config.load import parse_config
from reportgen.core.formatting import num, param
from reportgen.core.i18n import translations
from reportgen.teach.checkpoints import checkpoints
from reportgen.teach.theory import theory_of
from reportgen.train.analysis import analyse
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.run import RunResult, Status

EN = translations("en")


def train(text: str) -> tuple:
    config = parse_config(text)
    specs = expand_grid(config)
    data = draw_data(specs)
    results = [RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(specs, data, train_grid(specs, data))]
    return config, results


@pytest.fixture(scope="module")
def default(default_config, default_runs):
    results = list(default_runs.values())
    student = theory_of(results, default_config.defaults).student
    return {c.name: c for c in checkpoints(default_config, results, student, None, EN)}, default_runs


def test_the_default_build_asks_before_each_homework_answer(default):
    found, _ = default
    assert set(found) == {"will-it-stop", "updates-before-stop", "threshold-between", "first-slope", "largest-lr"}
    for c in found.values():
        assert sum(o.correct for o in c.options) == 1, c.name
        assert len({o.key for o in c.options}) == len(c.options) >= 3
        assert all(o.feedback.startswith("Right." if o.correct else "Not this one.") for o in c.options)


def test_each_right_option_is_what_the_runs_did(default):
    found, runs = default
    below = runs["threshold__threshold-0.1"]
    assert found["will-it-stop"].answer.key == "never"
    assert below.trajectory.status == Status.BUDGET_EXHAUSTED and below.analysis.loss_floor > 0.1

    ten = runs["threshold__threshold-10"].trajectory
    assert found["updates-before-stop"].answer.key == {0: "zero", 1: "one"}.get(ten.updates, "many") == "one"

    between = found["threshold-between"]
    wanted = float(re.search(r"threshold ([\d.]+): where", between.question).group(1))
    stop = int(re.search(r"At iteration (\d+)", between.answer.text).group(1))
    loss = below.trajectory.loss  # the longest run: every threshold run shares its curve
    assert loss[stop] < wanted <= loss[stop - 1] and 0.5 < wanted < 1.0
    halfway = [o for o in between.options if o.key == "halfway"][0]
    assert f"About iteration {(78 + 316) // 2}," in halfway.text  # the counts of thresholds 1 and 0.5

    slopes = {s: runs[f"slope__slope-{s}"].trajectory.stop_iteration for s in (1, 2, 3, 5)}
    assert found["first-slope"].answer.key == f"slope-{min(slopes, key=slopes.get)}" == "slope-5"

    top = runs["learning-rate__lr-0.059"]
    assert top.trajectory.status == Status.DIVERGED and found["largest-lr"].answer.key == "diverges"
    assert top.spec.params.lr > top.analysis.lr_max  # the feedback says it is above the bound: it is
    signed = 1 - top.spec.params.lr * top.analysis.hessian_eigenvalues[1]
    assert signed < -1 and f"1 − lr·λmax = {num(signed)}: the error flips side" in found["largest-lr"].reveal

    more = [o for o in found["will-it-stop"].options if o.key == "more"][0]
    gap = float(below.trajectory.loss[-1]) - below.analysis.loss_floor  # in float64, as results.json gives both
    assert f"only {num(gap)} above that floor" in more.feedback


def test_a_heavy_balls_largest_lr_is_not_told_with_a_plain_steps_factor():
    """1 − lr·λmax is what a plain full-batch step multiplies the steep error by; a heavy ball's is another number."""
    config, results = train("""
[defaults]
optimizer = "momentum"
momentum = 0.9
[[sweep]]
name = "lr"
vary = { lr = [0.05, 0.12] }
""")
    found = {c.name: c for c in checkpoints(config, results, None, None, EN)}
    assert found["largest-lr"].answer.key == "diverges"
    assert "1 − lr·λmax" not in found["largest-lr"].reveal and "2/λmax" not in found["largest-lr"].reveal


def test_a_config_with_other_runs_gets_other_answers():
    config, results = train("""
[defaults]
max_iters = 600
[[sweep]]
name = "lr"
vary = { lr = [0.01, 0.03] }
[[sweep]]
name = "slope"
vary = { slope = [1.0, 8.0] }
[[sweep]]
name = "thr"
vary = { threshold = [20.0, 2.0, 1.0] }
""")
    found = {c.name: c for c in checkpoints(config, results, theory_of(results, config.defaults).student, None, EN)}
    by_id = {r.id: r for r in results}
    assert found["largest-lr"].answer.key == "sooner"  # both stable: the larger step is faster
    assert "above 2/λmax" not in found["largest-lr"].reveal
    counts = {s: by_id[f"slope__slope-{s}"].trajectory.stop_iteration for s in (1, 8)}
    assert found["first-slope"].answer.key == f"slope-{min(counts, key=counts.get)}"
    assert "will-it-stop" not in found  # no run below its floor: nothing to ask
    assert found["updates-before-stop"].answer.key == "one"


def test_a_sweep_without_the_runs_a_question_needs_has_no_checkpoint():
    config, results = train("""
[defaults]
max_iters = 40
[[sweep]]
name = "thr"
vary = { threshold = [1.0] }
[[sweep]]
name = "lr"
vary = { lr = [0.001, 0.002] }
""")
    assert checkpoints(config, results, None, None, EN) == ()  # one threshold; lr 0.001 never stops in 40


class Checkpoints(HTMLParser):
    """Each checkpoint of a page: its options (key, right or not) and the text of its feedback and reveal."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict] = {}
        self.current: str | None = None
        self.depth = 0
        self.inside: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "data-checkpoint" in a:
            self.current, self.depth = a["data-checkpoint"], 0
            self.found[self.current] = {"options": {}, "text": ""}
        if self.current is None:
            return
        if tag == "div":
            self.depth += 1
        if tag == "input" and a.get("type") == "radio":
            self.found[self.current]["options"][a["value"]] = "data-correct" in a
        if tag == "p" and ("feedback" in a.get("class", "") or self.inside == "reveal"):
            self.inside = self.inside or "feedback"
        if tag == "div" and a.get("class") == "reveal":
            self.inside = "reveal"

    def handle_endtag(self, tag):
        if self.current is None:
            return
        if tag == "p" and self.inside == "feedback":
            self.inside = None
        if tag == "div":
            self.depth -= 1
            if self.inside == "reveal" and self.depth == 1:
                self.inside = None
            if self.depth == 0:
                self.current = None

    def handle_data(self, data):
        if self.current is not None and self.inside:
            self.found[self.current]["text"] += data + " "


def numbers_of(document: dict) -> list[float]:
    """Every number results.json holds, wherever it is."""
    out: list[float] = []

    def walk(value):
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            out.append(float(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(document)
    return out


def test_the_page_asks_before_it_tells_and_quotes_results_json(tiny_both):
    folder = tiny_both.site / "en"
    parser = Checkpoints()
    parser.feed((folder / "index.html").read_text("utf-8"))
    document = json.loads((folder / "results.json").read_text("utf-8"))
    assert set(parser.found) >= {"will-it-stop", "updates-before-stop", "second-backward", "graphs-per-loop"}
    runs = {r["id"]: r for r in document["runs"]}
    below = runs["thr__threshold-0.1"]
    assert parser.found["will-it-stop"]["options"] == {"picture": False, "more": False,
                                                       "never": below["loss_floor"] > below["params"]["threshold"]}
    assert parser.found["updates-before-stop"]["options"]["one"] is (runs["thr__threshold-10"]["updates"] == 1)
    # Every number the feedback and reveals quote is one of results.json's, at the precision shown (or a
    # difference of two of them: loss above the floor), or one of the evidence's, which the page states beside it.
    values = numbers_of(document)
    floors = {r["loss_floor"] for r in runs.values()}
    derived = [v - f for v in values for f in floors] + [abs(v) for v in values]
    shown = {num(v) for v in values + derived} | {num(v, 2) for v in values + derived} | {param(v) for v in values}
    shown |= {str(int(v)) for v in values if float(v).is_integer()}
    for name, found in parser.found.items():
        if name in ("second-backward", "graphs-per-loop"):
            continue  # the captured gradients: checked against the evidence below
        for token in re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", found["text"]):
            assert token in shown or token in {"10", "2"}, f"{name}: {token} is not a number of results.json"


def test_the_graph_checkpoints_follow_the_captured_evidence(tiny_both):
    parser = Checkpoints()
    parser.feed((tiny_both.site / "en" / "index.html").read_text("utf-8"))
    backward = parser.found["second-backward"]
    assert backward["options"] == {"same": False, "sum": True, "zero": False}
    once, twice = (float(v) for v in re.search(r"w.grad = (\S+) after one backward\(\) and (\S+) after",
                                               backward["text"]).groups())
    assert twice == pytest.approx(2 * once, rel=2e-3)  # four digits shown
    assert parser.found["graphs-per-loop"]["options"] == {"one": False, "two": True, "none": False}


def test_the_answer_first_section_is_near_the_top_with_its_figures(tiny_both):
    html = (tiny_both.site / "en" / "index.html").read_text("utf-8")
    top = html.index('class="answer-first"')
    assert top < html.index('id="model"') < html.index('id="question"')
    assert 'id="why-' in html[top - 40: top]
    for name in ("answer-window.svg", "answer-excess.svg"):
        assert f'src="figures/{name}"' in html and (tiny_both.site / "en" / "figures" / name).exists()
    parser = Checkpoints()
    parser.feed(html)
    key = html[html.index('id="answer-key"'):]
    assert key.count("<li>") == len(parser.found) >= 4  # every checkpoint's answer, for print


def test_terms_are_defined_before_the_sections_use_them(tiny_both):
    html = (tiny_both.site / "en" / "index.html").read_text("utf-8")
    words = html.index('id="words"')
    model = html.index('id="model"')  # the title, the homework and the answer first come before it
    for term in ("slow mode", "fast mode", "stability bound", "knee"):
        assert html.index(term, model) > words, term  # past the model section, its first use follows the words
    assert words < html.index('id="sweep-')


def test_the_recreated_window_draws_each_distinct_line_of_the_pile_once(default_runs):
    """The pile of a long run is thousands of lines on one another: the figure keeps one of each, to 0.1 px."""
    import dataclasses

    import numpy as np

    from reportgen.figures.answer import distinct_lines
    from reportgen.train.course import COURSE_WINDOW, PILE_MOST_LINES

    run = default_runs["threshold__threshold-0.1"]  # 1,000 iterations: the script draws 50 lines
    kept = distinct_lines(run)
    drawn = COURSE_WINDOW.drawn(run.trajectory.iterations_run)
    assert kept[0] == 0 and set(kept) <= set(drawn) and len(kept) < len(drawn)
    # Every line of the pile lies within a tenth of a pixel of a kept one, at both ends of the data.
    t, x = run.trajectory, run.data.x.ravel()
    ends = np.array([x.min(), x.max()])
    to_px = COURSE_WINDOW.axes[3] * COURSE_WINDOW.size[1] / (COURSE_WINDOW.ylim[1] - COURSE_WINDOW.ylim[0])
    pile = (np.outer(t.w[drawn], ends) + t.b[drawn][:, None]) * to_px
    lines = (np.outer(t.w[kept], ends) + t.b[kept][:, None]) * to_px
    assert np.abs(pile[:, None, :] - lines[None, :, :]).max(axis=2).min(axis=1).max() <= 0.05 + 1e-9
    # The same run repeated 300 times over (a run that long settles): still one line each.
    long = dataclasses.replace(t, w=np.tile(t.w[-1:], 300_000), b=np.tile(t.b[-1:], 300_000),
                               loss=np.tile(t.loss[-1:], 300_000))
    assert len(distinct_lines(dataclasses.replace(run, trajectory=long))) == 1
    # A pile of 5,000 lines, 3,858 of them a tenth of a pixel apart or more: the figure keeps PILE_MOST_LINES at most.
    drift = np.linspace(0, 2, 100_000, dtype=np.float32)
    moving = dataclasses.replace(t, w=t.w[-1] + drift, b=np.tile(t.b[-1:], 100_000), loss=np.tile(t.loss[-1:], 100_000))
    kept = distinct_lines(dataclasses.replace(run, trajectory=moving))
    assert PILE_MOST_LINES // 4 < len(kept) <= PILE_MOST_LINES and kept[0] == 0
