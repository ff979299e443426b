"""The default report in a real browser: Debian's chromium driven by Playwright.

Opened from disk and from http://127.0.0.1 under a sub-path, as GitHub Pages
serves a project site. In CI this test must run: a missing browser fails it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from reportgen.build import BuildOptions, build

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
    context, page, problems, _ = open_page(browser, f"{server}/course/report/", (server + "/", "data:"), width)
    # Nothing but the tables' own scroll areas is wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"page is {overflow}px wide at {width}px"
    headings = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert headings[0] == 1 and all(b - a <= 1 for a, b in zip(headings, headings[1:]))
    assert page.evaluate("[...document.images].every(i => i.alt)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"http-{width}.png"), full_page=True)
    assert problems == []
    context.close()
