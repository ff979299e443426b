"""The report anywhere: one self-contained file, filmstrips for print, and a web font for Chinese pages.

These build copies of the tiny project (its cache comes along, so nothing is
trained or rendered again). The browser checks of the same features, and the
PDF, are in test_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re

import numpy as np
import pytest
from conftest import copy_project
from fontTools.ttLib import TTFont

from reportgen.build import build
from reportgen.cli import main
from reportgen.core.fonts import needs_cjk
from reportgen.infra.cache import Cache
from reportgen.media.filmstrip import compose, key_iterations
from reportgen.site.bundle import single_file_csp
from reportgen.site.webfont import BUDGET, page_font

DATA_URI = re.compile(r'\b(?:src|poster|href)="([^"]*)"')


@pytest.fixture(scope="module")
def single(tiny, tmp_path_factory):
    """The tiny project built again with --single-file (its media come from the cache)."""
    project = copy_project(tiny, tmp_path_factory.mktemp("single") / "p")
    target = project.root / "report.html"
    report = build(project.options(single_file=target))
    assert not report.trained and report.rendered == 0
    return project, target, target.read_text("utf-8")


def test_single_file_refers_to_nothing_outside_itself(single):
    project, target, html = single
    urls = DATA_URI.findall(html)
    outside = [u for u in urls if not (u.startswith(("data:", "#")) or u == "")]
    assert outside == []
    animated = [r for r in project.runs.values() if r["media"]["mp4"]]
    assert html.count("data:video/mp4;base64,") == len(animated)
    assert html.count('class="filmstrip"') == len(animated)
    assert "data:image/svg+xml;base64," in html and 'download="results.json"' in html
    assert "<script" not in html.lower() and "<link rel=\"stylesheet\"" not in html
    assert ".gif" not in html  # GIFs repeat the MP4: left out


def test_single_file_csp_allows_exactly_its_own_style_and_data(single):
    _, _, html = single
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert csp.startswith("default-src 'none'") and "script-src 'none'" in csp
    assert "media-src data:" in csp and "'self'" not in csp
    assert "font-src" not in csp  # an English page with no CJK text carries no font
    assert "font-src data:" in single_file_csp("x", font=True, media=False)
    assert "media-src" not in single_file_csp("x", font=False, media=False)


def test_single_file_prints_its_size(tiny, tmp_path, capsys):
    project = copy_project(tiny, tmp_path / "p")
    target = tmp_path / "r.html"
    assert main(["build", "--config", str(project.config), "--out", str(project.site), "-q",
                 "--single-file", str(target)]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(rf"Single file: {re.escape(str(target))} \(\d+(\.\d)? (KB|MB)\)\n", out)
    assert target.stat().st_mode & 0o044 == 0o044  # readable by others, to upload or mail


def test_above_max_size_refuses_in_one_line_and_writes_nothing(tiny, tmp_path, capsys):
    project = copy_project(tiny, tmp_path / "p")
    before = project.html
    target = tmp_path / "r.html"
    code = main(["build", "--config", str(project.config), "--out", str(project.site), "-q",
                 "--single-file", str(target), "--max-size", "0.2"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "above --max-size 0.2 MB" in err and re.search(r"heaviest: \w+ [\d.]+ [KM]B \(\d+, largest \S+\), ", err)
    assert "animate" in err and "dpi" in err and "formats" in err and "Traceback" not in err
    assert not target.exists() and project.html == before


@pytest.mark.parametrize("where", ["inside-out", "folder", "config"])
def test_a_single_file_where_it_cannot_go_is_refused(tiny, tmp_path, capsys, where):
    project = copy_project(tiny, tmp_path / "p")
    target = {"inside-out": project.site / "r.html", "folder": tmp_path, "config": project.config}[where]
    code = main(["build", "--config", str(project.config), "--out", str(project.site), "--single-file", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("reportgen: error: --single-file") and len(err.strip().splitlines()) == 1


def test_max_size_must_be_a_positive_size(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--max-size", "-3"])
    assert exit_.value.code == 2 and "--max-size" in capsys.readouterr().err


# --------------------------------------------------------------------------- filmstrips


def test_a_filmstrip_shows_the_first_the_last_and_iterations_between():
    assert key_iterations(79) == (0, 26, 52, 78)
    assert key_iterations(317) == (0, 105, 211, 316)
    assert key_iterations(1) == (0,) and key_iterations(2) == (0, 1)
    frames = [np.full((4, 6, 3), v, dtype=np.uint8) for v in (10, 20, 30)]
    sheet = compose(frames, columns=2, gap=2)
    assert sheet.shape == (10, 14, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 8, 0] == 20 and sheet[6, 0, 0] == 30 and sheet[6, 8, 0] == 255


def test_filmstrips_are_cached_with_the_media_and_placed_in_the_site(tiny):
    for run in tiny.runs.values():
        strip = tiny.site / "media" / f"{run['id']}.filmstrip.png"
        assert strip.exists() == bool(run["media"]["mp4"]), run["id"]
        # results.json names the file and the iterations it shows, as the page does
        assert run["media"]["filmstrip"] == (f"media/{run['id']}.filmstrip.png" if strip.exists() else None)
        assert (run["filmstrip_iterations"] is not None) == strip.exists()
    assert 'src="media/thr__threshold-1.filmstrip.png"' in tiny.html
    assert "iterations 0, 26, 52, 78" in tiny.html  # the stop, 78, is the last
    assert tiny.runs["thr__threshold-1"]["filmstrip_iterations"] == [0, 26, 52, 78]


# --------------------------------------------------------------------------- the web font


def test_the_subset_holds_every_character_of_a_chinese_page_and_nothing_more(tmp_path):
    html = "<p>梯度下降，学习率 lr = 0.05：为什么停止？</p>"
    font = page_font(html, Cache(tmp_path))
    assert font is not None and font.data[:4] == b"wOF2" and len(font.data) < BUDGET
    cmap = set(TTFont(io.BytesIO(font.data)).getBestCmap())
    assert {ord(c) for c in html if needs_cjk([c])} == cmap  # the Chinese characters and punctuation, no more
    assert font.name.endswith(".woff2") and font.url == f"fonts/{font.name}"
    again = page_font(html, Cache(tmp_path))  # from the cache: the same bytes, the same name
    assert again == font


def test_a_page_without_cjk_text_gets_no_font(tmp_path, tiny):
    assert not needs_cjk([tiny.html])
    assert page_font(tiny.html, Cache(tmp_path)) is None
    assert not (tiny.site / "fonts").exists()
    assert page_font("<p>only an emoji 🎉</p>", Cache(tmp_path)) is None  # the font cannot draw it


def test_the_stylesheet_asks_for_the_font_by_the_name_its_rule_gives(tiny):
    from reportgen.site.pages import templates_dir
    from reportgen.site.webfont import FAMILY

    css = (templates_dir() / "style.css").read_text("utf-8")
    assert css.count(f'"{FAMILY}", ') == 3  # body, Chinese pages, code: first in each list


def test_pdf_without_a_chromium_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPORTGEN_CHROMIUM", str(tmp_path / "no-such-browser"))
    (tmp_path / "c.toml").write_text('[[sweep]]\nname = "s"\nvary = { slope = [1.0] }\n')
    code = main(["build", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "site"),
                 "--pdf", str(tmp_path / "r.pdf")])
    err = capsys.readouterr().err
    assert code == 2 and err == f"reportgen: error: REPORTGEN_CHROMIUM={tmp_path / 'no-such-browser'}: not an executable file\n"
    assert not (tmp_path / "site").exists() and not (tmp_path / ".reportgen-cache").exists()
