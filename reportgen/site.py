"""Write the site: fill the Jinja2 templates from the page views, and place figures and media.

The writer only writes. Every figure was drawn and every explanation computed
before it runs; it renders each :class:`~reportgen.views.PageView`, copies the
stylesheet, and links the cached media and figures into the staging folder.
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
from .results import MEDIA_FORMATS, write_json
from .trajectory import Status
from .views import PageView

def templates_dir() -> Path:
    """Return the templates folder: inside the installed package, or the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"reportgen templates not found next to {here}")


def make_environment(tr: Translations | None = None, compiled: Path | None = None) -> jinja2.Environment:
    """Build the one Jinja2 environment of the project, with its filters and the translations ``tr``.

    ``compiled``: a folder to keep the compiled templates in, so a rebuild does not compile them again.
    """
    tr = tr or translations(DEFAULT)
    cache = None
    if compiled is not None:
        compiled.mkdir(parents=True, exist_ok=True)
        cache = jinja2.FileSystemBytecodeCache(str(compiled))
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=cache,
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
    env.globals.update(Status=Status, StopCase=StopCase, Mode=Mode)
    return env


def write_site(out: Path, pages: Sequence[PageView], results: dict[str, Any], compiled: Path | None = None) -> None:
    """Write every page into ``out``: one language at its root, several in a folder each.

    ``compiled``: where compiled templates are kept between builds.
    """
    first_json: Path | None = None
    for page in pages:
        folder = out if len(pages) == 1 else out / page.lang
        folder.mkdir(exist_ok=True)
        first_json = _write_results(folder / "results.json", results, first_json)
        write_page(folder, page, compiled)
    if len(pages) > 1:
        write_language_index(out, pages)


def write_page(out: Path, page: PageView, compiled: Path | None = None) -> Path:
    """Write one language's page, its stylesheet, figures and media into ``out``."""
    assets, figures = out / "assets", out / "figures"
    assets.mkdir(exist_ok=True)
    figures.mkdir(exist_ok=True)
    css = (templates_dir() / "style.css").read_text("utf-8") + "\n" + listing_css()
    (assets / "style.css").write_text(css, "utf-8")
    for figure in page.figures.all():
        (figures / figure.name).write_text(figure.svg, "utf-8")
    for sweep in page.sweeps:
        for run in sweep.animated:
            _place_media(out, run.id, run.media.files)
    html = make_environment(translations(page.lang), compiled).get_template("index.html").render(page=page)
    path = out / "index.html"
    path.write_text(html, "utf-8")
    (out / ".nojekyll").write_text("")
    return path


def _place_media(out: Path, run_id: str, files: dict[str, str]) -> None:
    """Link a run's cached media into the site (cache and site share the bytes; both are only ever replaced)."""
    (out / "media").mkdir(exist_ok=True)
    for fmt in MEDIA_FORMATS:
        if fmt in files:
            _link(Path(files[fmt]), out / site_path(run_id, fmt))


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
    html = make_environment().get_template("languages.html").render(sites=links)
    path = out / "index.html"
    path.write_text(html, "utf-8")
    (out / ".nojekyll").write_text("")
    return path
