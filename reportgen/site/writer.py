"""Write the site: every page's folder (HTML, stylesheet, figures, media, fonts), results.json, the language index.

:func:`page_files` is the one list of what a page's folder holds; the writer writes exactly that, and the
single-file bundle embeds it. Nothing is computed here.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from reportgen.core.languages import LANGUAGES
from reportgen.media.render import site_path
from reportgen.site.pages import SITE_CSP, STYLESHEET, SitePage, make_environment
from reportgen.site.results import write_json
from reportgen.site.views import PageView


def page_files(page: SitePage) -> dict[str, str | bytes | Path]:
    """Return every file of a page's folder by site path: text, bytes, or a cached file to link."""
    files: dict[str, str | bytes | Path] = {STYLESHEET: page.css()}
    for figure in page.view.figures.all():
        files[figure.url] = figure.svg
    for sweep in page.view.sweeps:
        for run in sweep.animated:
            for drawing in run.media.all():  # the wide drawing and its phone twin
                for fmt, path in drawing.files.items():
                    files[site_path(run.id, fmt, drawing.layout)] = Path(path)
            if run.url("vtt"):
                files[run.url("vtt")] = run.captions.webvtt()
    if page.font is not None:
        files[page.font.url] = page.font.data
    return files


def write_site(out: Path, pages: Sequence[SitePage], results: str) -> None:
    """Write every page into ``out``: one language at its root, several in a folder each; ``results``: the text
    of results.json."""
    first_json: Path | None = None
    for page in pages:
        folder = out if len(pages) == 1 else out / page.view.lang
        folder.mkdir(exist_ok=True)
        first_json = _write_results(folder / "results.json", results, first_json)
        write_page(folder, page)
    if len(pages) > 1:
        write_language_index(out, [p.view for p in pages])


def write_page(out: Path, page: SitePage) -> Path:
    """Write one language's page and every file it refers to into ``out``."""
    for relative, content in page_files(page).items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            _link(content, target)  # cache and site share the bytes; both are only ever replaced
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, "utf-8")
    path = out / "index.html"
    path.write_text(page.html, "utf-8")
    (out / ".nojekyll").write_text("")
    return path


def _write_results(path: Path, text: str, same_as: Path | None) -> Path:
    """Write results.json; every language's copy is the same file (its media paths are relative), so link it."""
    if same_as is None:
        write_json(path, text)
        return path
    _link(same_as, path)
    return same_as


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@dataclass(frozen=True)
class LanguageLink:
    """One language of a multi-language build, as the root page lists it."""

    lang: str
    name: str  # the language's name in that language
    title: str  # the report's title in that language


def write_language_index(out: Path, pages: Sequence[PageView]) -> Path:
    """Write ``out/index.html``: a plain page linking to each language's folder (no script, no redirect)."""
    links = [LanguageLink(p.lang, LANGUAGES[p.lang], p.config.title) for p in pages]
    html = make_environment().get_template("languages.html").render(sites=links, csp=SITE_CSP)
    path = out / "index.html"
    path.write_text(html, "utf-8")
    (out / ".nojekyll").write_text("")
    return path
