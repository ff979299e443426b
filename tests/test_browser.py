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
import subprocess
import threading
import time
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from reportgen.build import BuildOptions, build
from reportgen.config.layout import PHONE_MAX_REM
from reportgen.core.i18n import catalog_path
from reportgen.figures.dag import EDGE_FONT_PX
from reportgen.figures.loss_chart import FONT_PX as CHART_FONT_PX
from reportgen.figures.paths import NARROW as PATHS_NARROW
from reportgen.figures.paths import WIDE as PATHS_WIDE
from reportgen.figures.plots import HEATMAP_SMALLEST_PT, NARROW, WIDE
from reportgen.media.layouts import PHONE_FRAME, WIDE_FRAME
from reportgen.site.serve import SiteHandler

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("REPORTGEN_SCREENSHOTS", "/tmp/reportgen-screenshots"))

pytestmark = pytest.mark.browser
#: Every image says what it shows, except a video's poster under it, which the video's own label names (alt="").
ALT_TEXTS = "[...document.images].every(i => i.alt || (i.matches('.player picture img') && i.alt === ''))"


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
    """Serve the site under /course/report/, like a GitHub Pages project site, with ``reportgen serve``'s handler."""
    docroot = tmp_path_factory.mktemp("docroot")
    shutil.copytree(site, docroot / "course" / "report")
    handler = functools.partial(QuietHandler, directory=str(docroot))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SiteHandler):
    """reportgen serve's handler (byte ranges, as GitHub Pages), without a log line per request."""

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str, allowed: tuple[str, ...], width: int = 1280, javascript: bool = True):
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
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
    # Each run's card shows this build's stop iteration (most cards are hidden until chosen).
    for run in runs:
        cell = page.locator(f'article[id="run-{run["id"]}"] dd.stop-iteration').text_content()
        expected = "—" if run["stop_iteration"] is None else str(run["stop_iteration"])
        assert cell == expected, run["id"]
    check_media(page, runs)
    # The 2-D sweep reads as a heatmap in the page, a link per cell.
    assert page.locator("#explore-slope-lr figure.heatmap svg a.cell").count() == 40


def check_media(page, runs: list[dict]) -> None:
    """Check that every image decodes and every video reaches its metadata, with a duration > 0."""
    # Lazy images (the filmstrips too, hidden on screen) are made eager first, and videos that wait to be chosen
    # (preload="none") are asked for their metadata.
    widths = page.evaluate(
        """async () => Promise.all([...document.images].map(async img => {
               img.loading = 'eager'; await img.decode(); return [img.getAttribute('src'), img.naturalWidth]; }))"""
    )
    assert widths and all(w > 0 for _, w in widths), widths
    # Polled from here: with JavaScript disabled the page runs no event listener or timer of ours.
    page.evaluate("() => document.querySelectorAll('video').forEach(v => { v.preload = 'metadata'; v.load(); })")
    deadline = time.monotonic() + 60
    while True:
        states = page.evaluate("""() => [...document.querySelectorAll('video')].map(
            v => [v.readyState, v.duration, v.error && v.error.code, v.currentSrc.slice(0, 80)])""")
        assert not [s for s in states if s[2]], states
        if all(ready >= 1 for ready, *_ in states) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert all(ready >= 1 for ready, *_ in states), states
    durations = [duration for _, duration, *_ in states]
    animated = [r for r in runs if r["media"]["mp4"]]
    assert len(durations) == len(animated) and all(d > 0 for d in durations), durations


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
    page.wait_for_timeout(500)
    # First load: the page and what the browser fetches by load + 500 ms. Posters are 256-colour PNGs (25 KB,
    # not 89 KB): 2.1 MB became 0.86 MB.
    assert sum(transferred) <= 1_500_000, f"first load transferred {sum(transferred)} bytes"
    check_page(page, site)
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_readable_at_phone_and_desktop_width(browser, site, server, width):
    """Nothing overflows; the text inside each animation is at least 10 CSS px (a phone plays its upright drawing) and
    inside each figure at least 9; a laptop's animation is 760+ px."""
    context, page, problems, _ = open_page(browser, f"{server}/course/report/", (server + "/", "data:"), width)
    # Nothing but the tables' own scroll areas is wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"page is {overflow}px wide at {width}px"
    # The text inside every animation is readable at the size it is shown (and an animation is not a thumbnail):
    # a phone plays each video's upright drawing, edge to edge, and shows its poster; a laptop the wide ones.
    dpi = json.loads((site / "results.json").read_text())["config"]["render"]["dpi"]
    drawing = PHONE_FRAME if width <= PHONE_MAX_REM * 16 else WIDE_FRAME
    frame_width = drawing.pixels(dpi)[0]
    shown = page.evaluate("""async () => Promise.all([...document.querySelectorAll('.player')].filter(p => p.checkVisibility())
        .map(async p => { const v = p.querySelector('video'), i = p.querySelector('picture img');
            i.loading = 'eager'; await i.decode();
            return [v.getBoundingClientRect().width, v.currentSrc.split('/').pop(), i.currentSrc.split('/').pop(),
                    i.naturalWidth, i.getBoundingClientRect().width]; }))""")
    assert len(shown) == 4  # the animated runs each explorer shows first: threshold 1, slope 2, lr 0.01, remedies' gd
    for css_width, video, poster, poster_width, poster_css_width in shown:
        assert video.endswith(".phone.mp4") == (drawing is PHONE_FRAME), (width, video)
        assert poster == video.replace(".mp4", ".poster.png") and poster_width == frame_width, (poster, poster_width)
        assert poster_css_width == css_width  # the poster lies exactly over the video's frame
        # Its smallest text (the layout's, which test_render checks against every drawn frame) as shown.
        assert css_width * drawing.smallest_px(dpi) / frame_width >= 10, (width, css_width, frame_width)
        if width >= 1280:
            assert css_width >= 760, css_width
        else:
            assert css_width == width  # edge to edge: the column of a phone is the screen
    # So is the text of every figure shown: its smallest (a legend, a threshold's label, a tick) at the figure's own
    # size, scaled as shown. A phone gets the narrow drawing, whose text barely shrinks; a laptop the wide one.
    smallest_px = {"loss": (WIDE.smallest_px, NARROW.smallest_px), "curve": (CHART_FONT_PX, CHART_FONT_PX),
                   "paths": (PATHS_WIDE.smallest_px, PATHS_NARROW.smallest_px)}
    figures = page.evaluate("""async () => Promise.all([...document.querySelectorAll('figure.overlay img, figure.chart img')]
        .filter(i => i.checkVisibility()).map(async i => { i.loading = 'eager'; await i.decode();
            return [i.currentSrc.split('/').pop(), i.getBoundingClientRect().width, i.naturalWidth]; }))""")
    assert len(figures) >= 6, figures  # an overlay per sweep, a chart per run shown first
    for name, css_width, natural_width in figures:
        narrow = name.endswith(".narrow.svg")
        assert narrow == (width < 576), (width, name)
        text = smallest_px[name.split("-")[0]][narrow] * css_width / natural_width
        assert text >= 9, (width, name, round(text, 1))
    # The graphs and heatmaps keep their text readable on a phone too, scrolling sideways there as a table does.
    smallest_px = {"graph": EDGE_FONT_PX, "heatmap": HEATMAP_SMALLEST_PT * 4 / 3}
    diagrams = page.evaluate("""async () => Promise.all([...document.querySelectorAll('.figure-scroll > :is(img, svg)')]
        .filter(e => e.checkVisibility()).map(async e => { if (e.decode) { e.loading = 'eager'; await e.decode(); }
            const box = e.parentElement;
            return [e.closest('figure').className || 'graph', e.getBoundingClientRect().width,
                    e.naturalWidth || +e.getAttribute('width'), box.scrollWidth > box.clientWidth]; }))""")
    # Heatmaps: slope × lr, optimizer × standardize, batch size × lr, momentum × lr.
    assert sorted(kind for kind, *_ in diagrams) == ["graph", "graph", *["heatmap"] * 4], diagrams
    for kind, css_width, natural_width, scrolls in diagrams:
        text = smallest_px[kind] * css_width / natural_width
        assert text >= 9 and scrolls == (width < 576), (width, kind, round(text, 1), scrolls)
    if width >= 1280:  # on a laptop every table fits: nothing to scroll sideways
        assert page.evaluate("[...document.querySelectorAll('.table-wrap')].filter(t => t.scrollWidth > t.clientWidth)"
                             ".map(t => t.querySelector('caption')?.textContent)") == []
    headings = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert headings[0] == 1 and all(b - a <= 1 for a, b in zip(headings, headings[1:]))
    assert page.evaluate(ALT_TEXTS)
    # Every picture and video has its real size (no layout shift); nothing plays by itself.
    assert page.evaluate("[...document.querySelectorAll('img, video')].every(e => +e.getAttribute('width') > 0"
                         " && +e.getAttribute('height') > 0)")
    assert page.evaluate("[...document.querySelectorAll('video')].every(v => !v.autoplay && v.paused)")
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
    assert page.evaluate(ALT_TEXTS)
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


# --------------------------------------------------------------------------- the report anywhere


@pytest.fixture(scope="module")
def portable(site, both):
    """The default report in both languages as single files and PDFs (training and media from the cache)."""
    root = site.parent
    report = build(BuildOptions(out=root / "portable", jobs=2, lang="all", single_file=root / "report.html",
                                pdf=root / "report.pdf"))
    assert not report.trained and report.rendered == 0
    return report


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_single_file_opens_with_no_script_and_no_request(browser, portable, lang):
    path = portable.out.parent / f"report.{lang}.html"
    assert (path, path.stat().st_size) in portable.single_files
    url = path.as_uri()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    # Every request but the document's own is refused, so anything the file does not carry would fail.
    context.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("data:") else None)
    page.goto(url, wait_until="load")
    runs = json.loads((portable.out / lang / "results.json").read_text())["runs"]
    for run in runs:
        cell = page.locator(f'article[id="run-{run["id"]}"] dd.stop-iteration').text_content()
        assert cell == ("—" if run["stop_iteration"] is None else str(run["stop_iteration"])), run["id"]
    check_media(page, runs)
    assert requests == [url]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"single-{lang}.png"), full_page=True)
    context.close()


def filmstrip_sizes(html: str) -> list[tuple[int, int]]:
    """Return the pixel size of every filmstrip a page shows in print."""
    return sorted((int(w), int(h)) for w, h in re.findall(
        r'<figure class="filmstrip">\s*<img [^>]*width="(\d+)" height="(\d+)"', html))


def test_the_pdf_has_the_stop_iterations_and_a_filmstrip_for_every_video(portable):
    pypdf = pytest.importorskip("pypdf")
    assert [p.name for p, _ in portable.pdfs] == ["report.en.pdf", "report.zh-CN.pdf"]
    for path, pages in portable.pdfs:
        lang = path.suffixes[0].lstrip(".")
        reader = pypdf.PdfReader(path)
        assert len(reader.pages) == pages > 1
        text = "\n".join(page.extract_text() for page in reader.pages)
        runs = json.loads((portable.out / lang / "results.json").read_text())["runs"]
        for run in runs:  # every run's stop iteration is on paper (the explorer prints its animated runs)
            if run["stop_iteration"] is not None and run["sweep"] != "slope-lr":
                assert re.search(rf"\b{run['stop_iteration']}\b", text), run["id"]
        # No link into the staging folder the build printed from: the site's files print as their names.
        uris = [str(a.get_object().get("/A", {}).get("/URI", "")) for page in reader.pages
                for a in (page.get("/Annots") or [])]
        assert not [u for u in uris if ".building-" in u or u.startswith("file:")], uris[:5]
        assert ".building-" not in text and "(results.json)" in text
        # Each animated run's key iterations print (the printer opens their tables), and no run takes two pages
        # of its own: the build printed 48 pages before runs flowed and their duplicate loss charts went (36 then).
        # The remedies added 3 sweeps and a section: their 6 animated runs print a page each, the rest about 5.
        videos = (portable.out / lang / "index.html").read_text("utf-8").count("<video")
        if lang == "en":
            assert text.count("Key iterations of") >= videos and pages <= 48
        html = (portable.out / lang / "index.html").read_text("utf-8")
        expected = filmstrip_sizes(html)
        assert len(expected) == html.count("<video")  # each video has its filmstrip
        images = [(int(xobject["/Width"]), int(xobject["/Height"]))
                  for page in reader.pages
                  for xobject in (x.get_object() for x in (page["/Resources"].get("/XObject") or {}).values())
                  if xobject.get("/Subtype") == "/Image"]
        # No empty video box: every filmstrip is printed as its image, and no video is laid out.
        assert sorted(i for i in images if i in set(expected)) == expected


def test_print_layout_hides_videos_and_navigation_and_shows_filmstrips(browser, site):
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"))
    page.emulate_media(media="print")
    shown = page.evaluate("""() => {
        const visible = e => e.checkVisibility();
        return {videos: [...document.querySelectorAll('video')].filter(visible).length,
                nav: [...document.querySelectorAll('header.site, nav')].filter(visible).length,
                strips: [...document.querySelectorAll('figure.filmstrip')].filter(visible).length,
                animated: document.querySelectorAll('article.run video').length,
                pictures: [...document.querySelectorAll('article.run img.frame')].filter(visible).length,
                stills: document.querySelectorAll('article.run img.frame').length};
    }""")
    assert shown["videos"] == 0 and shown["nav"] == 0
    # Each video prints as its filmstrip; a run of one iteration keeps its picture.
    assert shown["strips"] == shown["animated"] > 0 and shown["pictures"] == shown["stills"]
    page.emulate_media(media="screen")
    assert page.evaluate("[...document.querySelectorAll('figure.filmstrip')].every(f => !f.checkVisibility())")

# --------------------------------------------------------------------------- the explorer, without JavaScript

def shown_cards(page, sweep: str) -> list[str]:
    """Return the ids of the run cards an explorer shows."""
    return [c.get_attribute("id") for c in page.locator(f"#explore-{sweep} article.run").all() if c.is_visible()]


def test_the_explorer_works_without_javascript(browser, site):
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"),
                                           javascript=False)
    assert page.evaluate("1 + 1") == 2  # Playwright's own world runs; the page's scripts would not
    # Each explorer starts on the course's run where the sweep holds it (slope 2, lr 0.05, threshold 1).
    assert shown_cards(page, "threshold") == ["run-threshold__threshold-1"]
    assert shown_cards(page, "slope") == ["run-slope__slope-2"]
    assert shown_cards(page, "learning-rate") == ["run-learning-rate__lr-0.01"]  # no 0.05 here: the first
    assert shown_cards(page, "slope-lr") == ["run-slope-lr__slope-2__lr-0.05"]
    # Clicking labels shows the chosen run: its video, its numbers; the heatmap rings its cell.
    page.click('#explore-slope-lr label:text-is("5")')
    page.click('#explore-slope-lr label:text-is("0.062")')
    card = page.locator('[id="run-slope-lr__slope-5__lr-0.062"]')
    assert shown_cards(page, "slope-lr") == ["run-slope-lr__slope-5__lr-0.062"]
    assert card.locator("video").is_visible() and card.locator("video track[kind=captions]").count() == 1
    assert card.locator("dd.status-diverged").inner_text().startswith("diverged at ")
    rings = page.locator("#explore-slope-lr .ring").all()
    assert [r.get_attribute("data-pick") for r in rings if r.is_visible()] == ["0-3 1-9"]
    # A run that was not animated shows its loss curve, numbers and explanation, and no video.
    page.click('#explore-slope-lr label:text-is("0.03")')
    card = page.locator('[id="run-slope-lr__slope-5__lr-0.03"]')
    assert card.is_visible() and card.locator("video").count() == 0
    assert card.locator("figure.chart img").is_visible() and "The loss fell below 1" in card.inner_text()
    # Keyboard: Tab reaches the checked radio of a group, the arrow keys change the value.
    page.focus('#explore-slope input[data-pick="0-1"]')
    page.keyboard.press("ArrowRight")
    assert shown_cards(page, "slope") == ["run-slope__slope-3"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.pick") == "0-2"  # the group's checked value
    assert page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).outlineStyle") == "solid"
    # Who asked for less motion gets no transition.
    label = "document.querySelector('#explore-slope label')"
    assert page.evaluate(f"getComputedStyle({label}).transitionDuration") != "0s"
    page.emulate_media(reduced_motion="reduce")
    assert page.evaluate(f"getComputedStyle({label}).transitionDuration") == "0s"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#explore-slope-lr").screenshot(path=str(SHOTS / "explorer-nojs-1280.png"))
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_first_screen_has_the_homework_and_the_start_of_its_answer(browser, site, width):
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"),
                                           width=width, javascript=False)
    for selector in ("h1", "#homework li:last-child", ".answer-first legend"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] + box["height"] / 2 < 900, (selector, box)  # on the first 900 px
    # The batched implementation waits below the lesson, under "how reportgen runs it".
    assert page.locator("#how-it-runs").bounding_box()["y"] > page.locator("#graphs").bounding_box()["y"]
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_paused_videos_controls_cover_no_part_of_its_frame(browser, site, width):
    """Chromium draws its controls over a paused video's bottom ~85 CSS px (buttons, timeline, shade): the box has
    that band of white under the frame, which sits at the top (object-fit), at a phone's width and a laptop's."""
    import numpy as np
    from PIL import Image

    from reportgen.config.layout import CONTROLS_REM

    # Playwright's style tag waits for its load event, which needs JavaScript; the page itself runs none.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto((site / "index.html").as_uri(), wait_until="load")
    video = page.locator('[id="run-threshold__threshold-1"] video')
    box = video.bounding_box()
    frame_width, frame_height = (PHONE_FRAME if width <= PHONE_MAX_REM * 16 else WIDE_FRAME).figsize
    frame_height *= box["width"] / frame_width
    band = box["height"] - frame_height
    assert band >= CONTROLS_REM * 16 - 1 >= 85, (box, frame_height)
    # Without its controls, the band is plain white: the poster (the last frame) lies wholly above it.
    page.add_style_tag(content="video::-webkit-media-controls { display: none !important; }")
    # The poster is a lazy <picture>: have it decoded first, as it is once scrolled to (else the shot may beat it).
    page.locator('[id="run-threshold__threshold-1"] img.poster').evaluate(
        "async i => { i.loading = 'eager'; await i.decode(); }")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"video-band-{width}.png"
    video.screenshot(path=str(shot))
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    scale = pixels.shape[0] / box["height"]
    rows = pixels[int(np.ceil((frame_height + 2) * scale)): -2, 2:-2]  # inside the 1 px border
    assert rows.size and rows.min() >= 245, "the frame reaches into the controls' band"
    frame = pixels[: int(frame_height * scale) - 2, 2:-2]
    assert frame.min() < 100  # and the frame above it is drawn (its text and marks)
    context.close()


def test_a_checkpoint_reveals_only_after_a_choice_without_javascript(browser, site):
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"),
                                           width=375, javascript=False)
    names = page.eval_on_selector_all("[data-checkpoint]", "els => els.map(e => e.dataset.checkpoint)")
    assert len(names) >= 6  # predict before each sweep, the 0.1 question and the graphs
    for name in names:
        checkpoint = page.locator(f'[data-checkpoint="{name}"]')
        assert not checkpoint.locator(".reveal").is_visible(), name  # nothing told before a guess
        assert all(not f.is_visible() for f in checkpoint.locator(".feedback").all()), name
    # A wrong guess: its own feedback, in red, and the reveal; the other options' feedback stays hidden.
    between = page.locator('[data-checkpoint="threshold-between"]')
    between.locator('label[for="cp-threshold-between-halfway"]').click()
    shown = [f.inner_text() for f in between.locator(".feedback").all() if f.is_visible()]
    assert len(shown) == 1 and shown[0].startswith("Not this one.") and "iteration 150" in shown[0]
    assert between.locator(".reveal").is_visible() and "0.7" in between.locator(".reveal").inner_text()
    # Keyboard: the options are radio buttons; the arrow keys move the choice and its feedback.
    page.focus("#cp-threshold-between-halfway")
    page.keyboard.press("ArrowDown")
    shown = [f.inner_text() for f in between.locator(".feedback").all() if f.is_visible()]
    assert len(shown) == 1 and shown[0].startswith("Right.")
    # The answer first: near the top, its figures revealed by any choice.
    top = page.locator("section.answer-first")
    assert top.bounding_box()["y"] < page.locator("#model").bounding_box()["y"]
    assert not top.locator("figure img").first.is_visible()
    top.locator('label[for="cp-will-it-stop-never"]').click()
    assert top.locator("figure img").first.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    top.screenshot(path=str(SHOTS / "answer-first-375.png"))
    # On paper the key holds every answer, and no feedback prints.
    page.emulate_media(media="print")
    assert page.locator("#answer-key").is_visible() and page.locator("#answer-key li").count() == len(names)
    assert not between.locator(".reveal").is_visible()
    assert problems == []
    context.close()


NO_CJK_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>
"""


def test_chinese_page_needs_no_system_font(browser, portable, tmp_path):
    """Chromium with DejaVu as its only system font draws every Chinese character from the page's subset."""
    from fontTools.ttLib import TTFont

    from reportgen.core.fonts import needs_cjk

    conf = tmp_path / "fonts.conf"
    conf.write_text(NO_CJK_FONTS.format(cache=tmp_path / "fc-cache"))
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    if shutil.which("fc-list"):  # the test means something only if that config really has no CJK font
        listed = subprocess.run(["fc-list", ":lang=zh-cn"], env=env, capture_output=True, text=True).stdout
        assert listed.strip() == ""
    site = portable.out / "zh-CN"
    fonts = list((site / "fonts").glob("*.woff2"))
    assert len(fonts) == 1 and fonts[0].stat().st_size <= 400 * 1024
    subset = set(TTFont(fonts[0]).getBestCmap())
    # A second chromium, started by the same Playwright, with that font config.
    bare = browser.browser_type.launch(executable_path=CHROMIUM, args=ARGS, env=env)
    try:
        for url in ((site / "index.html").as_uri(), (portable.out.parent / "report.zh-CN.html").as_uri()):
            page = bare.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="load")
            page.evaluate("document.fonts.ready")
            text = page.evaluate(ALL_TEXT)
            han = {ch for ch in text if needs_cjk([ch])}
            assert len(han) > 100 and not {ch for ch in han if ord(ch) not in subset}
            # Chromium draws the page's Chinese with the web font (it has no other that could).
            cdp = page.context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
            heading = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
            used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
            assert any(f["isCustomFont"] and f["glyphCount"] > 0 for f in used), used
            page.screenshot(path=str(SHOTS / f"zh-CN-no-system-font-{url.rsplit('/', 1)[-1]}.png"))
            page.close()
    finally:
        bare.close()


ALL_TEXT = """() => document.body.innerText + ' ' + document.title + ' ' +
    [...document.querySelectorAll('[alt], [aria-label]')]
        .map(e => (e.getAttribute('alt') || '') + ' ' + (e.getAttribute('aria-label') || '')).join(' ')"""


def test_a_permalink_and_a_heatmap_cell_open_their_run(browser, site):
    url = (site / "index.html").as_uri()
    context, page, problems, _ = open_page(browser, url + "#run-learning-rate__lr-0.059", ("file://", "data:"),
                                           javascript=False)
    linked = page.locator('[id="run-learning-rate__lr-0.059"]')
    assert linked.is_visible() and linked.locator("video").is_visible() and linked.locator(".linked").is_visible()
    assert "diverged" in linked.locator("h4").inner_text()
    assert linked.bounding_box()["y"] >= page.locator("header.site").bounding_box()["height"]  # not under the header
    # The theory section names the unstable runs by their values and links to them.
    assert page.locator('#theory a[href="#run-learning-rate__lr-0.059"]').inner_text() == "lr = 0.059"
    # A heatmap cell is a link to its run, titled with its values and its stop iteration.
    cell = page.locator('#explore-slope-lr a.cell[href="#run-slope-lr__slope-3__lr-0.02"]')
    runs = {r["id"]: r for r in json.loads((site / "results.json").read_text())["runs"]}
    stop = runs["slope-lr__slope-3__lr-0.02"]["stop_iteration"]
    assert cell.locator("title").text_content() == f"slope = 3, lr = 0.02: stopped at iteration {stop}"
    cell.click()
    assert page.url.endswith("#run-slope-lr__slope-3__lr-0.02")
    target = page.locator('[id="run-slope-lr__slope-3__lr-0.02"]')
    assert target.is_visible() and target.locator("dd.stop-iteration").inner_text() == str(stop)
    assert "run-slope-lr__slope-3__lr-0.02" in shown_cards(page, "slope-lr")
    assert problems == []
    context.close()


def test_every_caption_track_parses_and_names_how_its_run_ends(browser, site):
    # From disk, the hardest place for a track: Chromium loads none from a file: URL, so the page carries each.
    context, page, problems, _ = open_page(browser, (site / "index.html").as_uri(), ("file://", "data:"),
                                           javascript=False)
    # With JavaScript disabled no listener of ours runs: ask for every track, then poll until each has loaded.
    page.evaluate("() => document.querySelectorAll('video track').forEach(t => { t.track.mode = 'hidden'; })")
    deadline = time.monotonic() + 60
    while True:
        tracks = page.evaluate("""() => [...document.querySelectorAll('video track')].map(t =>
            ({run: t.closest('article').id.slice(4), state: t.readyState, lang: t.srclang,
              cues: [...(t.track.cues || [])].map(c => [c.startTime, c.text])}))""")
        if all(t["state"] >= 2 for t in tracks) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    runs = {r["id"]: r for r in json.loads((site / "results.json").read_text())["runs"]}
    assert len(tracks) == sum(1 for r in runs.values() if r["media"]["mp4"]) > 10
    for track in tracks:
        run = runs[track["run"]]
        assert track["state"] == 2 and track["lang"] == "en" and len(track["cues"]) >= 8, track
        start, last = track["cues"][-1]
        ended = run["stop_iteration"] if run["status"] == "stopped" else run["diverged_at"] or run["iterations_run"] - 1
        assert last.startswith(f"iteration {ended}: "), (run["id"], last)
        assert start == pytest.approx((run["frames"] - 1) / run["fps"], abs=1e-3)
    assert problems == []
    context.close()


# --------------------------------------------------------------------------- accessibility, audited by axe-core

@pytest.mark.parametrize("lang, width", [("en", 1280), ("en", 375), ("zh-CN", 1280)])
def test_axe_finds_no_serious_or_critical_violation(browser, both, lang, width):
    """axe-core needs JavaScript: it runs in a context of its own that lets Playwright inject it."""
    from axe_playwright_python import (
        sync_playwright as axe,  # the test extra installs it: never skipped
    )
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto((both / lang / "index.html").as_uri(), wait_until="load")
    for checkpoint in page.locator("[data-checkpoint]").all():  # audit the reveals and the feedback too
        checkpoint.locator("label").first.click()
    results = axe.Axe().run(page)
    serious = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], "\n".join(serious)
    # The run linked to is audited too: a card, its video and its open table of key iterations.
    page.goto((both / lang / "index.html").as_uri() + "#run-slope__slope-5", wait_until="load")
    page.locator('[id="run-slope__slope-5"] details.key-iterations summary').click()
    results = axe.Axe().run(page, context={"include": [['[id="run-slope__slope-5"]']]})
    assert [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")] == []
    context.close()
