"""The report's text is computed from the runs: change a config value and its numbers change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reportgen.build import BuildOptions, build
from reportgen.core.formatting import num as format_number

CONFIG = """
title = "Site <script>alert(1)</script>"
[defaults]
max_iters = 150
seed = {seed}
[[sweep]]
name = "thr"
vary = {{ threshold = [50.0, 1.0, 0.05] }}
[render]
formats = []
"""


def built(tmp_path, seed: int):
    (tmp_path / f"c{seed}.toml").write_text(CONFIG.format(seed=seed))
    out = tmp_path / f"site{seed}"
    build(BuildOptions(config_path=tmp_path / f"c{seed}.toml", out=out, jobs=1))
    html = (out / "index.html").read_text()
    runs = {r["id"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    return html, runs


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    return built(tmp, 10), built(tmp, 11)


def why(html: str, run_id: str) -> str:
    article = re.search(rf'<article class="run" id="run-{re.escape(run_id)}"[^>]*>(.*?)</article>', html, re.S)
    assert article, run_id
    return re.sub(r"<[^>]+>", "", article.group(1))


def test_explanations_carry_this_builds_numbers(two_builds):
    for html, runs in two_builds:
        below = runs["thr__threshold-0.05"]
        text = why(html, below["id"])
        assert "never stopped" in text
        assert format_number(below["loss_floor"]) in text
        assert format_number(below["final"]["loss"]) in text
        assert "150 iterations" in text
        start = why(html, "thr__threshold-50")
        assert "iteration 0" in start and format_number(runs["thr__threshold-50"]["initial"]["loss"]) in start
        normal = why(html, "thr__threshold-1")
        assert f"iteration {runs['thr__threshold-1']['stop_iteration']}" in normal
        assert "before the update" in html


def test_changing_the_seed_changes_the_numbers(two_builds):
    (html10, runs10), (html11, runs11) = two_builds
    floor10, floor11 = runs10["thr__threshold-0.05"]["loss_floor"], runs11["thr__threshold-0.05"]["loss_floor"]
    assert format_number(floor10) != format_number(floor11)
    assert format_number(floor10) in why(html10, "thr__threshold-0.05")
    assert format_number(floor11) in why(html11, "thr__threshold-0.05")
    assert format_number(floor10) not in why(html11, "thr__threshold-0.05")


def test_titles_are_escaped_and_no_nan_reaches_the_page(two_builds):
    for html, _ in two_builds:
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        prose = re.sub(r'<details class="code"[^>]*>.*?</details>', " ", html, flags=re.S)  # source listings may say NaN
        text = re.sub(r"<[^>]+>", " ", prose)
        assert not re.search(r"\b(nan|inf)\b", text, re.I)


def test_the_published_site_names_no_folder_of_the_machine_that_built_it(tiny):
    assert "reportgen build --config project.toml --out site" in tiny.html
    assert "(project.toml)" in tiny.html
    for path in tiny.site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".svg", ".css"):
            text = path.read_text("utf-8")
            assert str(tiny.root) not in text and str(Path.cwd()) not in text, path


@pytest.mark.parametrize("config, out, expected", [
    ("configs/mine.toml", "public", "reportgen build --config configs/mine.toml --out public"),
    ("{cwd}/configs/mine.toml", "{cwd}/public", "reportgen build --config configs/mine.toml --out public"),
    ("/elsewhere/my config.toml", "/srv/www/site", "reportgen build --config 'my config.toml' --out site"),
    ("../up.toml", "outputs/site", "reportgen build --config up.toml"),
])
def test_the_rebuild_command_is_relative_or_names_files_alone(tmp_path, monkeypatch, config, out, expected):
    from reportgen.infra.options import rebuild_command

    monkeypatch.chdir(tmp_path)
    options = BuildOptions(config_path=Path(config.format(cwd=tmp_path)), out=Path(out.format(cwd=tmp_path)))
    assert rebuild_command(options) == expected
