"""Bad configs, interrupted builds, missing encoders, hostile text and reproducible output."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import start_build, wait_for, wait_for_session_end
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reportgen.build import build
from reportgen.cli import main
from reportgen.config.load import parse_config
from reportgen.config.schema import PARAM_NAMES
from reportgen.infra.errors import ConfigError
from reportgen.infra.options import CACHE_DIR, BuildOptions
from reportgen.media import render

OK = """
title = "ok"
[defaults]
max_iters = 60
[[sweep]]
name = "s"
vary = { threshold = [1.0, 0.1] }
[render]
dpi = 40
"""

BROKEN = [
    ('title = "x\n', "invalid TOML"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[defaults]\ntreshold = 1\n", "did you mean 'threshold'"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[defaults]\nlr = -1\n", "defaults.lr: must be > 0"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[defaults]\nn_points = 1\n", "defaults.n_points"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[defaults]\nmax_iters = 10000000\n", "defaults.max_iters"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[defaults]\nthreshold = -0.5\n", "defaults.threshold: must be >= 0"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [] }\n", "empty list"),
    ("[[sweep]]\nname = 's'\nvary = { slope = 2 }\n", "must be a list of values"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[[sweep]]\nname = 's'\nvary = { lr = [0.1] }\n", "duplicate sweep name"),
    ("[[sweep]]\nname = 'a/b'\nvary = { slope = [1.0] }\n", "not URL-safe"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0, 1] }\n", "run ids would collide"),
    ("[[sweep]]\nname = 's'\nvary = { slope = ['two'] }\n", "must be a number"),
    ("[[sweep]]\nname = 's'\nvary = { slope = [1.0] }\n[render]\nfps = 0\n", "render.fps"),
    ("sweep = 3\n", "array of tables"),
    ("[[sweep]]\nname = 's'\nvary = { lr = [1e-3] }\n[defaults]\nmax_iters = 100000\n[render]\nframe_every = 1\n", "limits.max_frames"),
    ("[[sweep]]\nname = 's'\nvary = { lr = [1e-3] }\n[render]\nmax_frames = 5\n", "has moved: set it as [limits] max_frames"),
    ("[[sweep]]\nname = 's'\nvary = { lr = [1e-3] }\n[limits]\nmax_memory_mb = 0\n", "limits.max_memory_mb: must be between"),
    ("[[sweep]]\nname = 's'\nvary = { lr = [1e-3] }\n[cache]\nkeep_build = 3\n", "did you mean 'keep_builds'"),
]


@pytest.mark.parametrize("text, expected", BROKEN)
def test_broken_configs_exit_2_with_clear_lines(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "site"
    assert main(["build", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith(f"reportgen: error: {path}") for line in lines), err
    assert any(expected in line for line in lines), err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / CACHE_DIR).exists()  # nothing written


def test_every_problem_is_reported(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[defaults]\nlr = 0\nseed = -1\nslop = 2\n[[sweep]]\nname = 's'\nvary = { slope = [] }\n")
    assert main(["build", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


toml_value = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=5), st.lists(st.integers(-3, 3), max_size=3),
)


def toml_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*PARAM_NAMES, "treshold", "lr_"]), toml_value, max_size=4))
def test_any_defaults_either_parse_or_raise_config_error(values):
    text = "".join(f"{k} = {toml_literal(v)}\n" for k, v in values.items())
    try:
        parse_config(f"[defaults]\n{text}[[sweep]]\nname = 's'\nvary = {{ slope = [1.0] }}\n", "h.toml")
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("h.toml: ") for p in exc.problems)


def test_out_never_holds_the_project_or_the_config(tmp_path, capsys, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='mine'\n")
    (tmp_path / "c.toml").write_text(OK)
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--config", "c.toml", "--out", "."]) == 2
    assert "contains" in capsys.readouterr().err
    assert (tmp_path / "pyproject.toml").exists() and (tmp_path / "c.toml").exists()


def test_missing_ffmpeg_skips_mp4_with_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(render, "ffmpeg_exe", lambda: None)
    (tmp_path / "c.toml").write_text(OK)
    with caplog.at_level(logging.WARNING, logger="reportgen"):
        report = build(BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "MP4" in warnings[0].getMessage()
    runs = json.loads((tmp_path / "site" / "results.json").read_text())["runs"]
    for run in runs:
        assert run["media"]["mp4"] is None and run["media"]["gif"] and run["media"]["poster"]
    html = (tmp_path / "site" / "index.html").read_text()
    assert "<video" not in html and html.count('class="media-links"') == len(report.results)


def test_pages_carry_a_strict_csp_and_no_inline_code(tmp_path):
    (tmp_path / "c.toml").write_text(OK.replace('title = "ok"', 'title = "<img src=x onerror=alert(1)>"'))
    build(BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1))
    html = (tmp_path / "site" / "index.html").read_text()
    assert "default-src 'self'" in html and "script-src 'none'" in html
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html)  # no inline event handlers
    assert not re.search(r"<style|\sstyle=", html)  # the CSP allows no inline style, inline SVG included
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_two_builds_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    (tmp_path / "c.toml").write_text(OK)
    options = BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1, use_cache=False)
    build(options)
    first = {p.relative_to(tmp_path / "site"): p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    build(options)
    second = {p.relative_to(tmp_path / "site"): p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    differing = sorted(str(k) for k in first if first[k] != second[k])
    assert differing == []  # HTML, results.json, SVG, PNG, GIF and MP4 alike
    assert "2023-11-14" in (tmp_path / "site" / "index.html").read_text()


# --------------------------------------------------------------------------- interruption

SLOW = """
title = "slow"
[defaults]
max_iters = 400
threshold = 0.0
[[sweep]]
name = "s"
vary = { slope = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0] }
[render]
frame_every = 1
dpi = 40
phone = false
"""


#: SLOW and one run more: work the next build must do however far the interrupted builds got.
SLOWER = SLOW.replace("8.0]", "8.0, 9.0]")


def committed(cache: Path) -> int:
    """Finished media entries (a worker's staging folder, ``.<key>-<pid>-*.tmp``, holds a meta.json a moment too)."""
    return sum(not p.parent.name.startswith(".") for p in (cache / "media").glob("*/meta.json"))


def test_killed_builds_keep_the_old_site_and_the_next_build_completes(tmp_path):
    (tmp_path / "ok.toml").write_text(OK)
    (tmp_path / "slow.toml").write_text(SLOW)
    (tmp_path / "slower.toml").write_text(SLOWER)
    out, cache = tmp_path / "site", tmp_path / CACHE_DIR
    assert main(["build", "--config", str(tmp_path / "ok.toml"), "--out", str(out), "-q"]) == 0
    old = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    before = committed(cache)

    # SIGKILL of the whole process group mid-render: nothing can clean up, yet the site is intact.
    proc = start_build(tmp_path / "slow.toml", out)
    wait_for(lambda: committed(cache) > before or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    wait_for_session_end(proc)  # no worker of it may still commit an entry
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == old
    dead = proc.pid

    # SIGINT in the middle of rendering: a clean stop, the staging folders removed.
    done = committed(cache)
    proc = start_build(tmp_path / "slow.toml", out)
    wait_for(lambda: committed(cache) > done or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    at_signal = committed(cache)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err and "Traceback" not in err
    wait_for_session_end(proc)  # a worker outliving the build for a moment could still commit an entry
    # Its workers were stopped, not left to finish their renders: at most the two being committed then.
    assert committed(cache) <= at_signal + 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == old
    assert not list(tmp_path.glob(".site.building-*"))

    # Leftovers a kill during staging or encoding would leave, with the dead builder's pid in their names.
    (tmp_path / f".site.building-{dead}-abc123").mkdir()
    (cache / "media" / f".{'a' * 24}-{dead}-xyz.tmp").mkdir(parents=True)
    # The next build reuses every finished entry, ignores the half-written ones, and completes.
    finished = committed(cache) - before
    assert 0 < finished <= 8
    proc = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--config", str(tmp_path / "slower.toml"), "--out", str(out), "--jobs", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"media: (\d+) drawings rendered, (\d+) from the cache", proc.stderr)
    assert match and int(match.group(2)) == finished and int(match.group(1)) == 9 - finished
    assert len(list((out / "media").glob("*.gif"))) == 9
    assert not list(tmp_path.glob(".site.building-*")) and not list((cache / "media").glob(".*.tmp"))


# --------------------------------------------------------------------------- characters no font has

EMOJI = """
title = "Emoji 📉 report"
[defaults]
max_iters = 40
[[sweep]]
name = "s"
title = "Slopes 🚀 and 👍🏽, é ✓ 梯度"
vary = { slope = [1.0, 2.0] }
[[sweep]]
name = "g"
title = "Grid 🐢"
vary = { slope = [1.0, 2.0], lr = [0.01, 0.02] }
[render]
dpi = 40
formats = ["gif"]
"""


def test_emoji_are_drawn_as_boxes_with_one_warning_and_no_matplotlib_noise(tmp_path):
    (tmp_path / "e.toml").write_text(EMOJI)
    proc = subprocess.run([sys.executable, "-m", "reportgen", "build", "--config", str(tmp_path / "e.toml"),
                           "--out", str(tmp_path / "site"), "--jobs", "2", "-q"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "always"})
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stderr.splitlines()  # from the workers and the figures alike, nothing else
    assert line.startswith("reportgen: the animations and figures have no font for some characters of the config")
    assert "draw □ for 🐢 (U+1F422), 👍 (U+1F44D), 🚀 (U+1F680) and leave out 🏽 (U+1F3FD)" in line
    html = (tmp_path / "site" / "index.html").read_text()
    assert "Slopes 🚀 and 👍🏽, é ✓ 梯度" in html and "Grid 🐢" in html  # the page keeps them
    figures = "".join(p.read_text() for p in (tmp_path / "site" / "figures").glob("*.svg"))
    assert "🚀" not in figures and "🐢" not in figures


@pytest.mark.parametrize("text, drawn", [("a🚀b", "a□b"), ("👍🏽", "□"), ("é ✓ λ 梯度", "é ✓ λ 梯度"),
                                         ("flag 🇫🇷", "flag □□"), ("e\u0301", "e\u0301")])
def test_what_the_figures_draw_of_a_text(text, drawn):
    from reportgen.core.fonts import drawable

    assert drawable(text) == drawn


# --------------------------------------------------------------------------- reliability, third pass

@pytest.mark.parametrize("args, message", [
    (["build", "--single-file", "/dev/null"], "exists and is not a regular file"),
    (["build", "--pdf", "/dev/null"], "exists and is not a regular file"),
    (["init", "/dev/null", "--force"], "exists and is not a regular file"),
    (["serve", "--port", "99999"], "must be between 0 and 65535"),
    (["build", "--config", "/dev/zero"], "not a config file"),
])
def test_bad_paths_and_ports_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<p>")
    if args[0] == "serve":
        args = [*args[:1], "--out", str(tmp_path / "site"), *args[1:]]
    elif args[0] == "build":
        args = [*args, "--out", str(tmp_path / "out"), "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert Path("/dev/null").is_char_device()  # untouched


def test_a_symlink_is_not_replaced_by_a_file(tmp_path, capsys):
    (tmp_path / "real.html").write_text("mine")
    (tmp_path / "link.html").symlink_to(tmp_path / "real.html")
    assert main(["init", str(tmp_path / "link.html"), "--force"]) == 2
    assert (tmp_path / "link.html").is_symlink() and (tmp_path / "real.html").read_text() == "mine"


def test_late_failures_are_caught_by_validation(tmp_path, capsys, monkeypatch):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["build", "--config", str(deep), "--out", str(tmp_path / "o1"), "-q"]) == 2
    assert "nested too deeply" in capsys.readouterr().err
    newline = tmp_path / "newline.toml"
    newline.write_text('[[sweep]]\nname = "s\\n"\nvary = { slope = [1.0] }\n')
    assert main(["build", "--config", str(newline), "--out", str(tmp_path / "o2"), "-q"]) == 2
    assert "is not URL-safe" in capsys.readouterr().err
    long = tmp_path / "long.toml"
    long.write_text(f'[[sweep]]\nname = "{"s" * 250}"\nvary = {{ slope = [1.0] }}\n')
    assert main(["build", "--config", str(long), "--out", str(tmp_path / "o3"), "-q"]) == 2
    assert "at most 64" in capsys.readouterr().err
    (tmp_path / "ok.toml").write_text(OK)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "abc")
    assert main(["build", "--config", str(tmp_path / "ok.toml"), "--out", str(tmp_path / "o4"), "-q"]) == 2
    assert "SOURCE_DATE_EPOCH='abc'" in capsys.readouterr().err
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    same = tmp_path / "same.out"
    assert main(["build", "--config", str(tmp_path / "ok.toml"), "--out", str(tmp_path / "o5"), "--pdf", str(same),
                 "--single-file", str(same), "-q"]) == 2
    assert "both write" in capsys.readouterr().err
    assert main(["build", "--config", str(tmp_path / "ok.toml"), "--out", str(tmp_path / ".reportgen-cache" / "site"),
                 "-q"]) == 2
    assert "inside a build cache" in capsys.readouterr().err


#: Every numeric option at the edges its validation allows (a budget, a size or a count capped where the test would
#: take minutes: max_iters at 60, n_points at 2,000, dpi at 150 (300 takes 10 s a build); the rest at their limits).
EDGES = {
    "defaults": {"slope": (-1e9, 1e9), "intercept": (-1e9, 1e9), "threshold": (0.0, 1e-30, 1e30), "lr": (1e-30, 1e30),
                 "max_iters": (1, 60), "seed": (0, 2**63 - 1), "n_points": (2, 2000), "noise": (0.0, 1e9),
                 "x_max": (1e-300, 1e9), "momentum": (0.0, 0.999999), "beta1": (0.0, 0.999999),
                 "beta2": (0.0, 0.999999), "eps": (1e-300, 1e30), "batch_size": (0, 1, 2)},
    "render": {"dpi": (30, 150), "fps": (5, 120), "seconds": (1.0, 600.0), "gif_frames": (2, 500),
               "frame_every": (1, 1_000_000), "phone": (True,)},  # the phone drawing: off unless picked
}


# derandomize: CI explores the same examples every time (seeds 1-18 were each run by hand; two found the crashes
# pinned below). Three drawn examples and the three pinned: each is a build of about 4 s.
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([(table, key) for table, keys in EDGES.items() for key in keys]), min_size=2,
                max_size=4, unique=True).flatmap(lambda picks: st.tuples(
                    st.just(picks), st.tuples(*(st.sampled_from(EDGES[t][k]) for t, k in picks)))),
       st.sampled_from(["gd", "momentum", "nesterov", "adam"]))
# Found by this test on a fresh clone: x all but 0 leaves the slow mode no excess, and its knee divided by it.
@example(picked=([("defaults", "x_max"), ("defaults", "slope")], (1e-300, -1e9)), rule="momentum")
# ... and a threshold of 0 on a floor of 0: "loss < 0" never passes, yet no checkpoint option said so.
@example(picked=([("defaults", "intercept"), ("defaults", "threshold"), ("defaults", "x_max")], (-1e9, 0.0, 1e-300)),
         rule="gd")
# The phone's frame at its smallest (144 px wide at dpi 30) with the longest numbers.
@example(picked=([("render", "phone"), ("render", "dpi"), ("defaults", "slope")], (True, 30, -1e9)), rule="adam")
def test_valid_configs_at_their_limits_build_without_a_traceback(tmp_path_factory, capsys, picked, rule):
    (picks, values) = picked
    tables: dict[str, dict] = {"defaults": {"max_iters": 40, "optimizer": rule},
                               "render": {"formats": ["mp4"], "phone": False}}
    for (table, key), value in zip(picks, values):
        tables[table][key] = value
    from reportgen.config.document import toml_value

    text = "".join(f"[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
                   for name, body in tables.items())
    text += '[[sweep]]\nname = "s"\nvary = { slope = [1.0, 3.0] }\n'
    root = tmp_path_factory.getbasetemp() / "limits"  # one cache for every example: the graphs are captured once
    root.mkdir(exist_ok=True)
    (root / "c.toml").write_text(text, "utf-8")
    code = main(["build", "--config", str(root / "c.toml"), "--out", str(root / "site"), "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, (text, err)
