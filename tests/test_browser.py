"""The default report in a real browser: Debian's chromium driven by Playwright.

Opened from disk and from http://127.0.0.1 under a sub-path, as GitHub Pages
serves a project site; in English and, built with --lang all, in Chinese. In CI
this test must run: a missing browser fails it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from reportgen.animation import FONT_PT
from reportgen.build import BuildOptions, build
from reportgen.i18n import catalog_path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("REPORTGEN_SCREENSHOTS", "/tmp/reportgen-screenshots"))

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed")
    root = tmp_path_factory.mktemp("browser")
    report = build(BuildOptions(out=root / "site", jobs=2))
    return report.out


@pytest.fixture(scope="module")
def both(site):
    """The same report in every language (--lang all), beside the English one: its training is reused."""
    report = build(BuildOptions(out=site.parent / "both", jobs=2, lang="all"))
    assert not report.trained
    return report.out


@pytest.fixture(scope="module")
def server(site, tmp_path_factory):
    """Serve the site under /course/report/, like a GitHub Pages project site."""
    docroot = tmp_path_factory.mktemp("docroot")
    shutil.copytree(site, docroot / "course" / "report")
    handler = functools.partial(QuietHandler, directory=str(docroot))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str, allowed: tuple[str, ...], width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    transferred: list[int] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}")
            if not (r.resource_type == "media" and "ERR_ABORTED" in (r.failure or "")) else None)
    page.on("request", lambda r: problems.append(f"left the site: {r.url}")
            if not r.url.startswith(allowed) else None)

    def finished(request):
        try:
            transferred.append(request.sizes()["responseBodySize"])
        except Exception:  # noqa: BLE001 - a request without sizes transferred nothing we can count
            pass

    page.on("requestfinished", finished)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, problems, transferred


def check_page(page, site: Path) -> None:
    runs = json.loads((site / "results.json").read_text())["runs"]
    # The tables show this build's stop iterations.
    for run in runs:
        cell = page.locator(f'tr[id="run-{run["id"]}"] .stop-iteration').inner_text()
        expected = "—" if run["stop_iteration"] is None else str(run["stop_iteration"])
        assert cell == expected, run["id"]
    # Every image decodes (lazy ones are made eager first).
    widths = page.evaluate(
        """async () => Promise.all([...document.images].map(async img => {
               img.loading = 'eager'; await img.decode(); return [img.getAttribute('src'), img.naturalWidth]; }))"""
    )
    assert widths and all(w > 0 for _, w in widths), widths
    # Every video reaches its metadata, with a duration > 0.
    durations = page.evaluate(
        """async () => Promise.all([...document.querySelectorAll('video')].map(v => new Promise((ok, bad) => {
               if (v.readyState >= 1) return ok(v.duration);
               v.addEventListener('loadedmetadata', () => ok(v.duration), {once: true});
               v.addEventListener('error', () => bad(new Error('video error ' + v.currentSrc)), {once: true});
               v.load(); })))"""
    )
    animated = [r for r in runs if r["media"]["mp4"]]
    assert len(durations) == len(animated) and all(d > 0 for d in durations), durations
    # The 2-D sweep reads as a heatmap.
    assert page.locator('figure.heatmap img[src="figures/heatmap-slope-lr.svg"]').count() == 1


def test_from_disk(browser, site):
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"))
    check_page(page, site)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "file-1280.png"), full_page=True)
    assert problems == []
    context.close()


def test_under_a_sub_path(browser, site, server):
    url = f"{server}/course/report/index.html"
    context, page, problems, transferred = open_page(browser, url, (server + "/", "data:"))
    assert sum(transferred) <= 2 * 1024 * 1024, f"first load transferred {sum(transferred)} bytes"
    check_page(page, site)
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_readable_at_phone_and_desktop_width(browser, site, server, width):
    """Nothing overflows; the text inside each animation is at least 9 CSS px; on a laptop it is 760 px wide or more."""
    context, page, problems, _ = open_page(browser, f"{server}/course/report/", (server + "/", "data:"), width)
    # Nothing but the tables' own scroll areas is wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"page is {overflow}px wide at {width}px"
    # The text inside every animation is readable at the size it is shown (and an animation is not a thumbnail).
    dpi = json.loads((site / "results.json").read_text())["config"]["render"]["dpi"]
    smallest = FONT_PT * dpi / 72  # px in the frame: every text of a frame has this size
    shown = page.evaluate("[...document.querySelectorAll('.frame')].map(v => [v.getBoundingClientRect().width,"
                          " +v.getAttribute('width')])")
    assert len(shown) == sum(1 for r in json.loads((site / "results.json").read_text())["runs"] if r["media"]["poster"])
    for css_width, frame_width in shown:
        assert css_width * smallest / frame_width >= 9, (width, css_width, frame_width)
        if width >= 1280:
            assert css_width >= 760, css_width
    if width >= 1280:  # on a laptop every table fits: nothing to scroll sideways
        assert page.evaluate("[...document.querySelectorAll('.table-wrap')].filter(t => t.scrollWidth > t.clientWidth)"
                             ".map(t => t.querySelector('caption')?.textContent)") == []
    headings = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert headings[0] == 1 and all(b - a <= 1 for a, b in zip(headings, headings[1:]))
    assert page.evaluate("[...document.images].every(i => i.alt)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"http-{width}.png"), full_page=True)
    assert problems == []
    context.close()


# --------------------------------------------------------------------------- the Chinese report

PAGE_TEXT = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('pre, code, details.code').forEach(e => e.remove());  // code stays as it is
    const attrs = [...document.querySelectorAll('[alt], [aria-label]')]
        .map(e => (e.getAttribute('alt') || '') + ' ' + (e.getAttribute('aria-label') || ''));
    return body.textContent + ' ' + attrs.join(' ');
}"""


def english_sentences() -> set[str]:
    """Return the catalog's English phrases of 3 or more words (code, tags and placeholders cut out)."""
    with catalog_path("zh-CN").open("rb") as po:
        catalog = read_po(po)
    phrases = set()
    for message in catalog:
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            text = re.sub(r"<code>.*?</code>|<[^>]+>|%\(\w+\)[sd]|&lt;", "\n", msgid)
            for phrase in text.split("\n"):
                phrase = " ".join(phrase.split())
                if len(re.findall(r"[A-Za-z]{2,}", phrase)) >= 3:
                    phrases.add(phrase)
    return phrases


def untranslated(page) -> list[str]:
    text = " ".join(page.evaluate(PAGE_TEXT).split())
    return sorted(p for p in english_sentences() if p in text)


def test_chinese_page_from_disk(browser, both):
    zh = both / "zh-CN"
    context, page, problems, _ = open_page(browser, (zh / "index.html").as_uri(), ("file://", "data:"))
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    check_page(page, zh)
    assert len(english_sentences()) > 50
    assert untranslated(page) == []
    assert "为什么停止，又为什么没有停止？" in page.inner_text("main")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "zh-CN-file-1280.png"), full_page=True)
    # The language switch is a plain relative link to the sibling folder.
    page.click('nav.languages a[hreflang="en"]')
    page.wait_for_load_state("load")
    assert page.url == (both / "en" / "index.html").as_uri()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_chinese_page_readable_at_phone_and_desktop_width(browser, both, width):
    url = (both / "zh-CN" / "index.html").as_uri()
    context, page, problems, _ = open_page(browser, url, ("file://", "data:"), width)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"page is {overflow}px wide at {width}px"
    assert page.evaluate("[...document.images].every(i => i.alt)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"zh-CN-{width}.png"), full_page=True)
    assert problems == []
    context.close()


def test_root_page_links_to_each_language(browser, both):
    context, page, problems, _ = open_page(browser, (both / "index.html").as_uri(), ("file://", "data:"))
    links = page.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert links == ["en/index.html", "zh-CN/index.html"]
    page.click('a[hreflang="zh-CN"]')
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert problems == []
    context.close()
