"""Render the pages from their views, and write the site: pages, stylesheet, figures, media and fonts.

Rendering is a stage like the others: :func:`render_page` fills the templates
from a :class:`~reportgen.views.PageView` and returns text, before anything is
written. :func:`page_files` is the one list of what a page's folder holds; the
writer writes exactly that, and the single-file bundle embeds it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import jinja2

from .explain import Mode, StopCase
from .figures import listing_css
from .formatting import num, param
from .i18n import Translations, translations
from .languages import DEFAULT, LANGUAGES
from .render import site_path
from .sources import templates_dir
from .results import write_json
from .trajectory import Status
from .views import PageView
from .webfont import WebFont

#: The Content-Security-Policy of a site's pages: the site's own files only, and no scripts.
SITE_CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' data:; style-src 'self'; "
            "font-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")
STYLESHEET = "assets/style.css"


@dataclass(frozen=True)
class SitePage:
    """One language's page, rendered: its HTML and the font its text needs."""

    view: PageView
    html: str
    font: WebFont | None

    def css(self, font_src: str | None = None) -> str:
        """Return the page's stylesheet; ``font_src``: where it finds the font (default: the site's file)."""
        css = (templates_dir() / "style.css").read_text("utf-8") + "\n" + listing_css() + "\n" + self.view.explorer_css
        if self.font is not None:
            css += self.font.css(font_src or f"../{self.font.url}")
        return css


def make_environment(tr: Translations | None = None, compiled: bool = False) -> jinja2.Environment:
    """Build the one Jinja2 environment of the project, with its filters and the translations ``tr``.

    ``compiled``: keep the compiled templates between builds, so a rebuild does not compile them again.
    """
    tr = tr or translations(DEFAULT)
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=bytecode_cache() if compiled else None,
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Whitespace inside {% trans %} is collapsed, as babel.cfg extracts it (trimmed = true).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
    env.filters["num"] = num
    env.filters["param"] = param
    env.filters["tensor"] = lambda values: "[" + ", ".join(param(float(v)) for v in values) + "]"
    env.filters["status"] = lambda status: tr.gettext(Status(status).label)
    env.globals.update(Status=Status, StopCase=StopCase, Mode=Mode, LANGUAGES=LANGUAGES)
    return env


def render_page(page: PageView, compiled: bool = False, embedded: bool = False, csp: str = SITE_CSP,
                inline_css: str | None = None) -> str:
    """Return a page's HTML. ``embedded``: for a single file (its stylesheet ``inline_css``, no links to files).

    ``compiled``: keep the compiled templates between builds.
    """
    env = make_environment(translations(page.lang), compiled)
    return env.get_template("index.html").render(page=page, embedded=embedded, csp=csp, inline_css=inline_css)


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Return Jinja2's store of compiled templates in its private per-user folder, or None when there is none.

    Compiled templates are code (marshal), so they never go in the build cache, which others may share.
    """
    try:
        return jinja2.FileSystemBytecodeCache()  # checks that the folder is the user's own, mode 0700
    except (OSError, RuntimeError):
        return None


def page_files(page: SitePage) -> dict[str, str | bytes | Path]:
    """Return every file of a page's folder by site path: text, bytes, or a cached file to link."""
    files: dict[str, str | bytes | Path] = {STYLESHEET: page.css()}
    for figure in page.view.figures.all():
        files[figure.url] = figure.svg
    for sweep in page.view.sweeps:
        for run in sweep.animated:
            for fmt, path in run.media.files.items():
                files[site_path(run.id, fmt)] = Path(path)
            if run.url("vtt"):
                files[run.url("vtt")] = run.captions.webvtt()
    if page.font is not None:
        files[page.font.url] = page.font.data
    return files


def write_site(out: Path, pages: Sequence[SitePage], results: dict[str, Any]) -> None:
    """Write every page into ``out``: one language at its root, several in a folder each."""
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


def _write_results(path: Path, document: dict[str, Any], same_as: Path | None) -> Path:
    """Write results.json; every language's copy is the same file (its media paths are relative), so link it."""
    if same_as is None:
        write_json(path, document)
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
