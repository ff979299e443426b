"""Config parsing and validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.config.grid import expand_grid
from reportgen.config.load import parse_config
from reportgen.config.schema import PARAM_NAMES
from reportgen.infra.errors import ConfigError

MINIMAL = """
title = "t"
[[sweep]]
name = "s"
vary = { slope = [1.0, 2.0] }
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.toml")
    return info.value.problems


def test_default_config_holds_the_homework(default_config, default_specs):
    sweeps = {s.name: s for s in default_config.sweeps}
    assert sweeps["threshold"].vary == {"threshold": (10.0, 1.0, 0.5, 0.1)}
    assert sweeps["slope"].vary == {"slope": (1.0, 2.0, 3.0, 5.0)}
    course = default_config.defaults  # the course script's own values
    assert (course.slope, course.intercept, course.lr, course.seed, course.threshold) == (2.0, 5.0, 0.05, 10, 1.0)
    assert default_config.render.frame_every == 1  # every iteration is a frame of the MP4
    assert default_config.render.formats == ("gif", "mp4")
    assert len({s.id for s in default_specs}) == len(default_specs) == 51 + 6 + 6 + 27
    heat = [s for s in default_specs if s.sweep == "slope-lr"]
    assert len(heat) == 40 and sum(s.animate for s in heat) == 4  # corners only
    # The remedies animate every run; the minibatch and regime sweeps are read from their figures and tables.
    assert all(s.animate for s in default_specs if s.sweep not in ("slope-lr", "minibatch", "momentum-lr"))
    assert not any(s.animate for s in default_specs if s.sweep in ("minibatch", "momentum-lr"))


def test_grid_is_a_cartesian_product():
    config = parse_config(MINIMAL.replace("slope = [1.0, 2.0]", "slope = [1, 2, 3], lr = [0.01, 0.02]"))
    specs = expand_grid(config)
    assert len(specs) == 6
    assert specs[0].id == "s__slope-1__lr-0.01"
    assert specs[-1].params.slope == 3.0 and specs[-1].params.lr == 0.02
    assert all(s.params.threshold == 1.0 for s in specs)


def test_unknown_key_names_the_closest_valid_key():
    (line,) = errors_of(MINIMAL + "[defaults]\ntreshold = 1.0\n")
    assert line == "c.toml: defaults.treshold: unknown key; did you mean 'threshold'?"
    (line,) = errors_of(MINIMAL.replace("slope = [", "slop = ["))
    assert "sweep[0].vary.slop" in line and "'slope'" in line


@pytest.mark.parametrize(
    "snippet, expected",
    [
        ("[defaults]\nlr = 'fast'", "defaults.lr: must be a number, got str 'fast'"),
        ("[defaults]\nlr = 0", "defaults.lr: must be > 0, got 0.0"),
        ("[defaults]\nlr = inf", "defaults.lr: must be a finite number"),
        ("[defaults]\nlr = nan", "defaults.lr: must be a finite number"),
        ("[defaults]\nthreshold = -1", "defaults.threshold: must be >= 0"),
        ("[defaults]\nmax_iters = 0", "defaults.max_iters: must be between 1 and 1000000"),
        ("[defaults]\nmax_iters = 10.5", "defaults.max_iters: must be an integer"),
        ("[defaults]\nmax_iters = true", "defaults.max_iters: must be an integer"),
        ("[defaults]\nn_points = 1", "defaults.n_points: must be between 2 and 100000"),
        ("[render]\nformats = ['gif', 'avi']", "render.formats: unknown value 'avi'; choose from gif, mp4"),
        ("[render]\nformats = 'gif'", "render.formats: must be a list, got str 'gif'"),
    ],
)
def test_bad_values_give_one_clear_line(snippet, expected):
    (line,) = errors_of(MINIMAL + snippet + "\n")
    assert line.startswith("c.toml: ") and expected in line


def test_sweep_problems():
    text = """
[[sweep]]
name = "a"
vary = { slope = [] }
[[sweep]]
name = "b b"
vary = { slope = [1.0] }
[[sweep]]
name = "c"
vary = { lr = [0.1, 0.1] }
[[sweep]]
name = "d"
vary = { lr = [0.1] }
[[sweep]]
name = "d"
vary = { lr = [0.2] }
"""
    lines = errors_of(text)
    assert any("sweep[0].vary.slope: empty list" in l for l in lines)
    assert any("sweep[1].name: 'b b' is not URL-safe" in l for l in lines)
    assert any("sweep[2].vary.lr: duplicate value 0.1: run ids would collide" in l for l in lines)
    assert any("sweep[4].name: duplicate sweep name 'd'" in l for l in lines)
    assert len(lines) == 4  # every problem, not only the first


def test_toml_syntax_error_shows_line_and_column():
    (line,) = errors_of('title = "x"\n[defaults\n')
    assert line.startswith("c.toml: invalid TOML:") and "line 2" in line and "column" in line


def test_no_sweep_is_an_error():
    (line,) = errors_of('title = "x"\n')
    assert "no [[sweep]] table" in line


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@settings(max_examples=60, deadline=None)
@given(
    slope=finite,
    lr=st.floats(min_value=1e-9, max_value=10),
    threshold=st.one_of(st.just(0.0), st.floats(min_value=1e-30, max_value=1e6)),  # 0, or what float32 holds
    max_iters=st.integers(1, 1_000_000),
    n_points=st.integers(2, 100_000),
)
def test_valid_values_round_trip(slope, lr, threshold, max_iters, n_points):
    text = MINIMAL + (
        f"[defaults]\nslope = {slope!r}\nlr = {lr!r}\nthreshold = {threshold!r}\n"
        f"max_iters = {max_iters}\nn_points = {n_points}\n"
    )
    config = parse_config(text)
    assert config.defaults.lr == lr and config.defaults.slope == slope
    assert config.defaults.max_iters == max_iters and config.defaults.n_points == n_points
    assert set(config.to_dict()["defaults"]) == set(PARAM_NAMES)


@settings(max_examples=60, deadline=None)
@given(lr=st.one_of(st.floats(max_value=0), st.just(math.inf), st.just(-math.inf)))
def test_invalid_lr_is_always_refused(lr):
    value = "nan" if math.isnan(lr) else ("inf" if lr == math.inf else "-inf" if lr == -math.inf else repr(lr))
    (line,) = errors_of(MINIMAL + f"[defaults]\nlr = {value}\n")
    assert "defaults.lr" in line


@pytest.mark.parametrize(
    "animate, expected",
    [
        ('"all"', 6), ('"none"', 0), ('"corners"', 4),
        ('["s__slope-1__lr-0.01"]', 1), ("[{ slope = 3.0 }]", 2), ('["s__slope-1__lr-0.01", { lr = 0.02 }]', 4),
    ],
)
def test_animate_selection(animate, expected):
    text = MINIMAL.replace("slope = [1.0, 2.0]", "slope = [1, 2, 3], lr = [0.01, 0.02]") + ""
    text = text.replace('name = "s"', f'name = "s"\nanimate = {animate}')
    specs = expand_grid(parse_config(text))
    assert sum(s.animate for s in specs) == expected


def test_animate_errors():
    bad_mode = MINIMAL.replace('name = "s"', 'name = "s"\nanimate = "some"')
    assert "unknown mode 'some'" in errors_of(bad_mode)[0]
    with pytest.raises(ConfigError) as info:
        expand_grid(parse_config(MINIMAL.replace('name = "s"', 'name = "s"\nanimate = ["s__slope-9"]'), "c.toml"))
    assert info.value.problems == ["c.toml: sweep[0].animate: 's__slope-9' matches no run of sweep 's'"]


def test_readme_lists_every_option_as_the_schema_declares_it():
    from pathlib import Path

    from reportgen.config.document import options_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start, end = "<!-- options: generated by reportgen.config.document.options_table() -->\n", "\n<!-- end options -->"
    assert start in readme and end in readme, "the README's options table has lost its markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == options_table(), "run: python -c 'from reportgen.config.document import options_table; print(options_table())'"


def test_a_default_changed_in_the_schema_changes_the_built_in_config(monkeypatch):
    import dataclasses

    from reportgen.config import document, schema

    fields = {f.name: f for f in dataclasses.fields(schema.RenderSettings)}
    monkeypatch.setattr(fields["fps"], "default", 24)
    assert "\nfps = 24 " in document.default_config_text()
    assert "| `render.fps` | `24` |" in document.options_table()


@pytest.mark.parametrize("spelling", ["zh-CN", "zh_cn", "ZH-cn", " zh_CN "])
def test_the_config_and_the_flag_accept_the_same_spellings(spelling):
    from reportgen.estimate import report_languages

    config = parse_config(f'lang = "{spelling}"\n' + MINIMAL)
    assert config.lang == "zh-CN"
    assert report_languages(spelling, config) == ("zh-CN",)
    assert report_languages(None, parse_config('lang = "ALL"\n' + MINIMAL)) == ("en", "zh-CN")


@pytest.mark.parametrize("escape, name", [("\\u0000", "U+0000"), ("\\u202E", "U+202E"), ("\\u001B", "U+001B"),
                                          ("\\u2066", "U+2066"), ("\\u061C", "U+061C"), ("\\u200B", "U+200B"),
                                          ("\\uFEFF", "U+FEFF"), ("\\U000E0041", "U+E0041")])
def test_hidden_and_reordering_characters_are_refused(escape, name):
    # TOML escapes them (a raw control character is already invalid TOML); the decoded text is refused.
    (line,) = errors_of(f'title = "a{escape}b"\n' + MINIMAL.replace('title = "t"\n', ""))
    assert line.startswith("c.toml: title: holds " + name)
    text = MINIMAL.replace('name = "s"', f'name = "s"\ndescription = "x{escape}"')
    assert errors_of(text)[0].startswith("c.toml: sweep[0].description: holds " + name)


def test_printable_unicode_and_emoji_pass():
    config = parse_config('title = "梯度下降 📉 — ok\\tnew\\nline"\n' + MINIMAL.replace('title = "t"\n', ""))
    assert config.title.startswith("梯度下降 📉")
