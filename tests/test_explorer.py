"""The scriptless explorer and the captions, read from the tiny project's page and files (no browser)."""

from __future__ import annotations

import base64
import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from reportgen.build import BuildOptions, build
from reportgen.config.grid import expand_grid
from reportgen.config.layout import (
    EXPLORER_LIMIT,
    course_run,
    page_layout,
    radio_groups,
)
from reportgen.config.load import load_config, parse_config
from reportgen.config.schema import Params
from reportgen.core.i18n import translations
from reportgen.figures.plots import HEATMAP_LABEL_PITCH_PT, labelled_ticks
from reportgen.media.captions import run_captions, timestamp
from reportgen.media.plan import FINAL_HOLD, frame_plans
from reportgen.site.explorer import explorer_css
from reportgen.teach.stops import explain_stop

CUE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)$", re.M)


def seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def cues(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    return [(seconds(a), seconds(b), words) for a, b, words in CUE.findall(text)]


def test_each_sweep_shows_the_course_run_first_where_it_holds_it(default_runs):
    by_sweep: dict[str, list] = {}
    for run in default_runs.values():
        by_sweep.setdefault(run.spec.sweep, []).append(run.spec)
    first = {name: course_run(specs, Params()).varied for name, specs in by_sweep.items()}
    assert first == {"threshold": {"threshold": 1.0}, "slope": {"slope": 2.0},
                     "learning-rate": {"lr": 0.01},  # 0.05 is not in this sweep: its first run
                     "slope-lr": {"slope": 2.0, "lr": 0.05},
                     "remedies": {"optimizer": "gd", "standardize": False},  # the course's rule on raw x
                     "minibatch": {"batch_size": 1, "lr": 0.1},  # no run takes every point: its first run
                     "momentum-lr": {"momentum": 0.9, "lr": 0.05}}  # β 0.9 is the default
    groups = radio_groups("slope-lr", by_sweep["slope-lr"], course_run(by_sweep["slope-lr"], Params()))
    assert [g.key for g in groups] == ["slope", "lr"]
    assert [c.value for c in groups[1].choices][:3] == ["0.005", "0.01", "0.02"]
    assert [c.value for g in groups for c in g.choices if c.checked] == ["2", "0.05"]


def test_the_course_run_is_the_configs_defaults_for_the_explorer_and_the_explanations_alike():
    """A config whose [defaults] are not the course's: its own defaults are "the course run" everywhere."""
    from reportgen.teach.theory import theory_of
    from reportgen.train.analysis import analyse
    from reportgen.train.batched import draw_data, train_grid
    from reportgen.train.run import RunResult

    config = parse_config("[defaults]\nlr = 0.02\nthreshold = 0.6\nmax_iters = 1500\n"
                          "[[sweep]]\nname = \"lr\"\nvary = { lr = [0.05, 0.02, 0.01] }\n"
                          "[[sweep]]\nname = \"thr\"\nvary = { threshold = [1.0, 0.6] }\n")
    specs = expand_grid(config)
    layouts = page_layout(config, specs)
    assert layouts["lr"].first == "lr__lr-0.02" and layouts["thr"].first == "thr__threshold-0.6"
    assert [c.value for g in layouts["lr"].groups for c in g.choices if c.checked] == ["0.02"]
    data = draw_data(specs)
    results = [RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(specs, data, train_grid(specs, data))]
    worked = theory_of(results, config.defaults).worked
    assert worked is not None and worked.run_id in (layouts["lr"].first, layouts["thr"].first)
    assert worked.lr == 0.02


def test_one_rule_per_value_hides_what_the_checked_radio_rules_out(default_runs):
    specs = [r.spec for r in default_runs.values() if r.spec.sweep == "slope-lr"]
    css = explorer_css(radio_groups("slope-lr", specs, specs[0]))
    assert css.count('input[data-pick="') == 4 + 10
    assert '.explorer:has(input[data-pick="1-9"]:checked) [data-pick]:not(input, :target, [data-pick~="1-9"])' in css
    assert css.rstrip().endswith("{ display: none; }") and explorer_css([]) == ""


def test_every_run_has_one_card_with_picks_its_radios_and_the_stylesheet_know(tiny):
    html, css = tiny.html, (tiny.site / "assets" / "style.css").read_text()
    cards = dict(re.findall(r'<article class="run" id="run-([^"]+)"(?: data-pick="([^"]*)")?', html))
    assert set(cards) == set(tiny.runs)
    radios = re.findall(r'<input type="radio" name="([^"]+)" id="[^"]+" data-pick="([^"]+)"( checked)?>', html)
    for name, token, _ in radios:
        assert f'input[data-pick="{token}"]:checked' in css, token
    # One value checked per group: the thresholds sweep starts on the course's threshold 1.
    assert sorted(name for name, _, on in radios if on) == sorted({name for name, _, _ in radios})
    checked = {name: token for name, token, on in radios if on}
    assert checked["pick-thr-0"] == "0-1" and cards["thr__threshold-1"] == "0-1"
    assert checked["pick-grid-0"] == "0-0" and checked["pick-grid-1"] == "1-0"  # no course run: the first
    assert cards["grid__slope-3__lr-0.057"] == "0-1 1-1" and cards["slope__slope-5"] == ""  # one value: no group
    # Every id of the page is unique, the inline heatmap's included; no inline style (the CSP forbids it).
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert not re.search(r"<style|\sstyle=", html)


def test_heatmap_cells_link_to_their_runs_with_a_title(tiny):
    svg = re.search(r'<figure class="heatmap">\s*<div class="figure-scroll"[^>]*>(<svg.*?</svg>)', tiny.html, re.S).group(1)
    links = re.findall(r'<a href="#run-([^"]+)" class="cell" tabindex="-1" aria-label="([^"]+)"><title>([^<]+)</title>',
                       svg)
    assert {run for run, _, _ in links} == {r for r in tiny.runs if r.startswith("grid__")}
    for run, label, title in links:
        stop = tiny.runs[run]["stop_iteration"]
        assert label == title and title.startswith("slope = ")
        assert (f"stopped at iteration {stop}" if stop is not None else "budget exhausted after 130 iterations") in title
    assert "target=" not in svg and re.search(r'<svg [^>]*width="\d+" height="\d+"', svg)
    assert svg.count('class="ring" data-pick="') == len(links) == 6


def test_captions_follow_the_run_and_its_video(tiny):
    for run_id, run in tiny.runs.items():
        vtt = tiny.site / "media" / f"{run_id}.vtt"
        if not run["media"]["mp4"]:
            assert not vtt.exists() and f'{run_id}.vtt"' not in tiny.html
            continue
        # The page carries the track itself (a page opened from disk loads none from a file: URL); the file is beside it.
        track = re.search(rf'<article [^>]*id="run-{re.escape(run_id)}".*?<track kind="captions" '
                          r'src="data:text/vtt;base64,([^"]+)" srclang="en" label="English" default>', tiny.html, re.S)
        assert track and base64.b64decode(track.group(1)).decode("utf-8") == vtt.read_text("utf-8"), run_id
        told = cues(vtt.read_text())
        assert len(told) >= 8 and told[0][0] == 0
        assert all(a < b == c for (a, b, _), (c, _, _) in zip(told, told[1:]))  # back to back, in order
        # The last cue is the end, held to the end of the video: frames at fps, then the final hold.
        start, end, last = told[-1]
        assert end == round((run["frames"] + round(run["fps"] * FINAL_HOLD)) / run["fps"], 3)
        assert start == round((run["frames"] - 1) / run["fps"], 3)
        if run["status"] == "stopped":
            assert f"iteration {run['stop_iteration']}: loss " in last and "&lt; " in last and "the run stops" in last
        elif run["status"] == "diverged":
            assert last == f"iteration {run['diverged_at']}: loss passed 10⁶ × its start, diverged"
        else:
            assert last.endswith("the budget of 130 iterations is used up, the run ends")
        if run["settle_iteration"]:
            assert f"from iteration {run['settle_iteration']} the line no longer moves visibly" in [w for _, _, w in told]
        # The text alternative lists the same iterations, the events in words.
        card = re.search(rf'id="run-{re.escape(run_id)}".*?</article>', tiny.html, re.S).group(0)
        assert card.count("<tr><th scope=\"row\">") == len(told)


def test_a_caption_starts_when_the_video_shows_its_iteration(default_runs):
    run = default_runs["slope__slope-5"]
    settings = load_config().render
    frame_plan = frame_plans([run], settings)[run.id]
    words = run_captions(run, frame_plan, explain_stop(run), translations("zh-CN"))
    fps = round(len(run.trajectory.loss) / settings.seconds)  # every iteration a frame, about 8 s
    for cue, row in zip(words.cues, words.rows):
        assert timestamp(cue.start) == timestamp(row.t / max(fps, 5))
    assert words.rows[-1].text.startswith(f"第 {run.trajectory.stop_iteration} 次迭代：损失 ")
    assert words.webvtt().count(" --> ") == len(words.cues)


BIG = """
title = "Big"
[defaults]
max_iters = 40
[[sweep]]
name = "big"
vary = {{ slope = [{slopes}], lr = [{lrs}] }}
[render]
formats = []
"""


def test_a_sweep_too_large_for_an_explorer_keeps_its_heatmap_image(tmp_path):
    slopes = ", ".join(str(1.0 + i / 4) for i in range(21))
    lrs = ", ".join(str(0.002 * (i + 1)) for i in range(20))
    (tmp_path / "big.toml").write_text(BIG.format(slopes=slopes, lrs=lrs))
    report = build(BuildOptions(config_path=tmp_path / "big.toml", out=tmp_path / "site", jobs=1))
    assert len(report.results) == 420 > EXPLORER_LIMIT
    html = (tmp_path / "site" / "index.html").read_text()
    assert 'class="explorer"' not in html and "data-pick" not in html  # radio buttons are checkpoints' only
    assert '<img src="figures/heatmap-big.svg"' in html and 'class="cell"' not in html
    svg = (tmp_path / "site" / "figures" / "heatmap-big.svg").read_text()
    assert "<a " not in svg and 'url(#h' in svg  # no links, and the statuses are hatched
    # Only its animated runs (the corners) have a card, a permalink and a loss curve.
    corners = {r.id for r in report.results if r.spec.animate}
    assert len(corners) == 4 and set(re.findall(r'<article class="run" id="run-([^"]+)"', html)) == corners
    assert {p.name for p in (tmp_path / "site" / "figures").glob("curve-*")} == \
        {f"curve-{c}{narrow}.svg" for c in corners for narrow in ("", ".narrow")}  # the narrow one for phones


@given(count=st.integers(1, 500), length=st.floats(20, 3000))
def test_heatmap_labels_sit_a_label_apart_and_no_further(count, length):
    """Every k-th tick is labelled from the first, k the least that keeps the labels HEATMAP_LABEL_PITCH_PT apart."""
    labelled = labelled_ticks(count, length)
    step = labelled[1] - labelled[0] if len(labelled) > 1 else count
    assert labelled == list(range(0, count, step))
    pitch = length / count  # points between two ticks
    assert len(labelled) == 1 or step * pitch >= HEATMAP_LABEL_PITCH_PT - 1e-9
    if len(labelled) > 1 and step > 1:
        assert (step - 1) * pitch < HEATMAP_LABEL_PITCH_PT  # one tick fewer between labels would crowd them
