"""The report in Simplified Chinese: complete catalogs, CJK glyphs in every figure, --lang all."""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from reportgen.build import BuildOptions, build
from reportgen.config.load import load_config, parse_config
from reportgen.core import fonts
from reportgen.core.i18n import catalog_path, translations
from reportgen.estimate import report_languages
from reportgen.infra.errors import ConfigError
from reportgen.media.frames import FrameRenderer
from reportgen.media.plan import FrameJob, FrameLabels, frame_labels
from reportgen.site.pages import make_environment

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted_messages() -> dict[str, tuple[str, ...]]:
    """Extract every message from the sources with the project's own babel.cfg, as `make catalogs` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, tuple[str, ...]] = {}
    for filename, _, message, _, _ in extract_from_dir(ROOT, method_map, options_map):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


@pytest.fixture(scope="module")
def zh_catalog():
    with catalog_path("zh-CN").open("rb") as po:
        return read_po(po)


def test_every_message_is_translated_in_the_zh_catalog(zh_catalog):
    messages = extracted_messages()
    assert len(messages) > 100  # the templates, the Python code and the built-in config
    assert "The model and the loop" in messages and "floor %(floor)s" in messages and "True slope" in messages
    problems = []
    for msgid, ids in messages.items():
        entry = zh_catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {msgid!r}")
        # Numbers stay computed: every placeholder of the English is in the Chinese, and no other.
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(" ".join(ids))):
                problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
    assert problems == [], "run `make catalogs` and translate:\n" + "\n".join(problems)


def test_the_template_catalog_is_up_to_date_and_no_mo_is_kept():
    with (ROOT / "reportgen/locale/reportgen.pot").open("rb") as pot:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    assert template == set(extracted_messages()), "run `make catalogs`"
    assert not list((ROOT / "reportgen/locale").rglob("*.mo"))  # the build compiles the .po in memory


def test_catalog_compiles_in_memory_and_templates_use_it():
    tr = translations("zh-CN")
    assert tr.gettext("The model and the loop") == "模型与训练循环"
    assert tr.ngettext("%(num)d frame", "%(num)d frames", 5) % {"num": 5} == "5 帧"
    page = make_environment("zh-CN").from_string("{{ _('Theory') }}|{{ Status.BUDGET_EXHAUSTED | status }}").render()
    assert page == "理论|预算用尽"


def test_languages_resolve_and_bad_ones_are_one_clear_error():
    config = load_config()
    assert report_languages("all", config) == ("en", "zh-CN")
    assert report_languages("zh_cn", config) == ("zh-CN",)
    with pytest.raises(ConfigError, match="--lang 'fr': unknown language; choose one of en, zh-CN, all"):
        report_languages("fr", config)
    assert parse_config('lang = "zh-CN"\n[[sweep]]\nname = "s"\nvary = { slope = [1.0] }\n').lang == "zh-CN"
    with pytest.raises(ConfigError, match="lang: unknown language; choose one of en, zh-CN, all, got 'de'"):
        parse_config('lang = "de"\n[[sweep]]\nname = "s"\nvary = { slope = [1.0] }\n')


def test_only_the_built_in_config_is_translated():
    zh = translations("zh-CN")
    default = load_config().translated(zh.gettext)
    assert default.title == "线性回归的梯度下降"
    assert [s.title for s in default.sweeps] == ["停止阈值", "真实斜率", "学习率", "斜率 × 学习率", "改进方法", "小批量",
                                               "动量 × 学习率"]
    assert default.text == load_config().text  # the config listing stays as written
    mine = parse_config('title = "True slope"\n[[sweep]]\nname = "s"\ntitle = "Learning rate"\nvary = { slope = [1.0] }\n',
                        source="mine.toml")
    assert mine.translated(zh.gettext) == mine


# --------------------------------------------------------------------------- figures


def figure_words(lang: str) -> str:
    """Every word the frames and SVG figures draw in ``lang``."""
    tr = translations(lang)
    words = list(frame_labels(tr).texts())
    words += [tr.gettext(m) for m in ("threshold %(value)s", "floor %(value)s", "iteration", "loss (log scale)",
                                      "iterations to stop", "stability bound 2/λmax", "loss floor",
                                      "budget exhausted", "diverged", "%(sweep)s: %(values)s", "leaf")]
    words += [s.title for s in load_config().translated(tr.gettext).sweeps]
    return "".join(words)


def test_the_cjk_font_has_a_glyph_for_every_figure_word():
    text = figure_words("zh-CN")
    cjk = {ch for ch in text if ord(ch) >= 0x2E80}
    assert len(cjk) > 30, "the figure words should be Chinese"
    assert {ch for ch in text if not ch.isspace() and ord(ch) not in fonts.cjk_codepoints()} == set()
    assert fonts.cjk_font_path().stat().st_size > 1_000_000  # a real CJK font, not a subset stub


def job(labels: FrameLabels, title: str) -> FrameJob:
    """A diverging run whose fit leaves the panel: every note of a frame is drawn."""
    x = np.linspace(0.5, 9.5, 12)
    loss = np.geomspace(40, 4e7, 30)
    w, b = np.geomspace(0.5, 800, 30), np.geomspace(0.1, 120, 30)
    return FrameJob(run_id="r", title=title, x=x, y=2 * x + 5, slope=2.0, intercept=5.0, threshold=1.0,
                    loss_floor=0.4, w_star=2.0, b_star=5.0, hessian=((33.0, 5.0), (5.0, 1.0)),
                    eigenvectors=((-0.15, 0.99), (0.99, 0.15)), status="diverged", stop_iteration=None,
                    diverged_at=29, loss=loss, w=w, b=b, labels=labels)


def test_a_chinese_frame_draws_every_glyph_and_no_tofu():
    zh = job(frame_labels(translations("zh-CN")), "停止阈值：threshold = 1")
    assert zh.needs_cjk and not job(FrameLabels(), "Stop threshold: threshold = 1").needs_cjk
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        renderer = FrameRenderer(dpi=40, cjk=True)
        renderer.setup(zh)
        final = renderer.draw(29)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == []  # matplotlib warns for each glyph no font of the fallback list has
    # The same words through DejaVu alone come out as tofu boxes: different pixels.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tofu = FrameRenderer(dpi=40, cjk=False)
        tofu.setup(zh)
        assert not np.array_equal(tofu.draw(29), final)


# --------------------------------------------------------------------------- --lang all

TINY = """
title = "Mine: 我的报告"
[defaults]
max_iters = 60
[[sweep]]
name = "thr"
title = "Thresholds"
vary = { threshold = [1.0, 0.1] }
[render]
formats = ["gif"]
dpi = 40
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("langs")
    (root / "tiny.toml").write_text(TINY)
    report = build(BuildOptions(config_path=root / "tiny.toml", out=root / "site", jobs=1, lang="all"))
    again = build(BuildOptions(config_path=root / "tiny.toml", out=root / "zh", jobs=1, lang="zh-CN"))
    return root, report, again


def test_all_writes_each_language_in_its_folder_with_a_switch(both):
    root, report, _ = both
    site = root / "site"
    assert report.languages == ("en", "zh-CN") and report.trained and report.rendered == 4  # 2 runs x 2 languages
    en, zh = (site / "en/index.html").read_text(), (site / "zh-CN/index.html").read_text()
    assert '<html lang="en">' in en and '<html lang="zh-CN">' in zh
    assert 'href="../zh-CN/index.html"' in en and 'href="../en/index.html"' in zh
    assert "Why did it stop, or not?" in en and "为什么停止，又为什么没有停止？" in zh
    assert "Mine: 我的报告" in zh and "Thresholds" in zh  # a user's config is not translated
    index = (site / "index.html").read_text()
    assert 'href="en/index.html"' in index and 'href="zh-CN/index.html"' in index
    assert "script-src 'none'" in index and "<script" not in index
    # One training, one results.json for both; the frames differ by their words.
    assert filecmp.cmp(site / "en/results.json", site / "zh-CN/results.json", shallow=False)
    for name in ("thr__threshold-1.poster.png", "thr__threshold-0.1.gif"):
        assert not filecmp.cmp(site / "en/media" / name, site / "zh-CN/media" / name, shallow=False)


def test_a_second_language_build_reuses_training_and_media(both):
    root, _, again = both
    assert again.languages == ("zh-CN",) and not again.trained and again.rendered == 0
    assert (root / "zh/index.html").read_text().startswith("<!doctype html>\n<html lang=\"zh-CN\">")
    assert "--lang zh-CN" in (root / "zh/index.html").read_text()  # the rebuild command says so


def test_unknown_lang_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reportgen", "build", "--lang", "klingon", "--out", str(tmp_path / "s")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "reportgen: error: --lang 'klingon': unknown language; choose one of en, zh-CN, all"
    assert not (tmp_path / "s").exists()


def test_torch_words_keep_their_english_with_a_chinese_gloss_and_the_version_is_stated(tiny_both):
    import re

    import torch

    zh = (tiny_both.site / "zh-CN" / "index.html").read_text("utf-8")
    en = (tiny_both.site / "en" / "index.html").read_text("utf-8")
    # What torch printed is quoted as printed: each quoted warning or error is followed by one line of Chinese.
    quoted = re.findall(r'<pre class="captured">([^<]*(?:Error|Warning|warn)[^<]*)</pre>\s*(<p class="gloss">[^<]*)?', zh)
    assert quoted and all(gloss and re.search(r"[\u4e00-\u9fff]", gloss) for _, gloss in quoted), quoted
    assert 'class="gloss"' not in en  # the English page needs none
    deprecated = "is deprecated" in en.split("Torch warned while tracing:")[1].split("</pre>")[0]
    sentence = "warned above that it is deprecated" if deprecated else "gave no deprecation warning here"
    assert f"built with torch {torch.__version__}, whose <code>torch.jit.trace</code> {sentence}" in en
