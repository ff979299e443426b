"""Print a written page to PDF through Chromium's own print, as a reader's Ctrl+P would.

The page's print stylesheet does the layout (filmstrips instead of videos, no
navigation, whole table rows and figures); this module only drives a headless
Chromium through Playwright, waits until every image and font the print layout
shows is ready, and saves the PDF. Playwright and a Chromium are needed only
for ``--pdf``: ``pip install 'reportgen[pdf]'`` and a Chromium or Chrome on the
machine (``REPORTGEN_CHROMIUM`` names one that is not on the PATH).
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reportgen.core import palette
from reportgen.infra.errors import BuildAbort, ConfigError
from reportgen.infra.output import replacing

#: Where a Chromium is looked for, in order, after $REPORTGEN_CHROMIUM.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Headless in a container or CI: no sandbox, no GPU, nothing fetched by the browser itself.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
#: Page numbers at the foot of each page (Chromium fills the two spans).
FOOTER = (f'<div style="width:100%;font-size:8px;color:{palette.MUTED};text-align:center">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
#: Wait until what the print layout shows is loaded and decoded: lazy images and the web font.
#: Links to the site's own files (results.json, media, another language) would print as file:// URLs into the
#: staging folder the build prints from, deleted right after: on paper they become their published name, as text.
#: Links within the page (#...) and to the web stay links. Each run's table of key iterations prints open.
PAPER_LINKS = """() => {
    for (const a of document.querySelectorAll('a[href]')) {
        const href = a.getAttribute('href');
        if (href.startsWith('#') || /^[a-z][a-z0-9+.-]*:/i.test(href)) continue;
        a.dataset.href = href;
        a.removeAttribute('href');
    }
    for (const d of document.querySelectorAll('details.key-iterations, details.words')) d.open = true;
}"""
READY = """async () => {
    await document.fonts.ready;
    await Promise.all([...document.images].filter(i => getComputedStyle(i).display !== 'none')
        .map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));
}"""


@dataclass(frozen=True)
class Printer:
    """A Chromium that Playwright can drive."""

    executable: str


def find_printer() -> Printer:
    """Return the Chromium to print with, or refuse --pdf in one line saying what to install."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ConfigError("--pdf needs Playwright: pip install 'reportgen[pdf]'") from None
    wanted = os.environ.get("REPORTGEN_CHROMIUM")
    if wanted:
        if not (Path(wanted).is_file() and os.access(wanted, os.X_OK)):
            raise ConfigError(f"REPORTGEN_CHROMIUM={wanted}: not an executable file")
        return Printer(wanted)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return Printer(found)
    raise ConfigError("--pdf needs Chromium or Chrome (Debian: apt install chromium); "
                      "set REPORTGEN_CHROMIUM to its path if it is not on the PATH")


def print_pdf(printer: Printer, page: Path, target: Path) -> int:
    """Print ``page`` (an HTML file) to ``target`` as A4 through Chromium; return the PDF's page count."""
    from playwright.sync_api import Error

    try:
        with replacing(target) as tmp:
            # Playwright's sync API refuses a thread that runs an event loop (Jupyter, or Playwright itself):
            # a thread of its own has none.
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(_print, printer, page, tmp).result()
            pages = page_count(tmp.read_bytes())
    except Error as exc:
        raise BuildAbort(f"--pdf {target}: Chromium could not print: {str(exc).splitlines()[0]}") from None
    return pages


def _print(printer: Printer, page: Path, pdf: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=printer.executable, args=ARGS)
        try:
            view = browser.new_page()
            view.goto(page.resolve().as_uri(), wait_until="load")
            view.emulate_media(media="print")
            view.evaluate(PAPER_LINKS)
            view.evaluate(READY)
            view.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True,
                     display_header_footer=True, header_template="<span></span>", footer_template=FOOTER)
        finally:
            browser.close()


def page_count(pdf: bytes) -> int:
    """Return the number of pages of a PDF as Chromium writes it (one /Type /Page object each)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
