"""Render the pages from their views: HTML and the stylesheet, as text, before anything is written.

Rendering is a stage like the others: :func:`render_page` fills the templates from a
:class:`~reportgen.site.views.PageView`. The writer (:mod:`reportgen.site.writer`) and the single-file bundle
(:mod:`reportgen.site.bundle`) place what it returns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2
from markupsafe import Markup, escape

from reportgen.config import layout
from reportgen.core.formatting import fixed, num, param, power_of_ten
from reportgen.core.i18n import translations
from reportgen.core.languages import DEFAULT, LANGUAGES
from reportgen.figures.listings import listing_css
from reportgen.infra.sources import templates_dir
from reportgen.media.layouts import PHONE_FRAME, WIDE_FRAME
from reportgen.site.views import PageView
from reportgen.site.webfont import WebFont
from reportgen.teach.regimes import TOLERANCE
from reportgen.teach.stops import RULES, Mode, StopCase
from reportgen.train.run import DIVERGENCE_FACTOR, Status

#: The Content-Security-Policy of a site's pages: the site's own files only, and no scripts.
SITE_CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' data:; style-src 'self'; "
            "font-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")
STYLESHEET = "assets/style.css"
#: What the templates and the stylesheet know of the page's layout (see reportgen.config.layout).
LAYOUT = {"PHONE_MAX_REM": layout.PHONE_MAX_REM, "DIAGRAM_MIN_REM": layout.DIAGRAM_MIN_REM,
          "CONTROLS_REM": layout.CONTROLS_REM, "FRAME_RATIO": round(WIDE_FRAME.figsize[1] / WIDE_FRAME.figsize[0], 6),
          "PHONE_RATIO": round(PHONE_FRAME.figsize[1] / PHONE_FRAME.figsize[0], 6),
          # A video's own poster: one transparent pixel, so that the picture under it shows (see _run_card.html).
          "CLEAR_POSTER": "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"}


@dataclass(frozen=True)
class SitePage:
    """One language's page, rendered: its HTML and the font its text needs."""

    view: PageView
    html: str
    font: WebFont | None

    def css(self, font_src: str | None = None) -> str:
        """Return the page's stylesheet; ``font_src``: where it finds the font (default: the site's file)."""
        css = stylesheet() + "\n" + listing_css() + "\n" + self.view.explorer_css
        if self.font is not None:
            css += self.font.css(font_src or f"../{self.font.url}")
        return css


@functools.lru_cache(maxsize=None)
def make_environment(lang: str = DEFAULT, compiled: bool = False) -> jinja2.Environment:
    """Return the Jinja2 environment of a language, made once, with its filters and its translations.

    ``compiled``: keep the compiled templates between builds, so a rebuild does not compile them again.
    """
    tr = translations(lang)
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
    env.filters["decimals"] = fixed  # four decimals, as the course's window title shows w and b
    env.filters["tensor"] = lambda values: "[" + ", ".join(param(float(v)) for v in values) + "]"
    env.filters["status"] = lambda status: tr.gettext(Status(status).label)
    env.filters["power_of_ten"] = power_of_ten
    env.filters["commas"] = lambda items: Markup(escape(tr.gettext(", "))).join(items)
    # A list of run labels, which hold commas themselves ("batch_size = 1, lr = 0.1"): one "; " between them.
    env.filters["semicolons"] = lambda items: Markup(escape(tr.gettext("; "))).join(items)
    env.globals.update(Status=Status, StopCase=StopCase, Mode=Mode, LANGUAGES=LANGUAGES, RULES=RULES, TOLERANCE=TOLERANCE,
                       DIVERGENCE_FACTOR=DIVERGENCE_FACTOR, **LAYOUT)
    return env


def render_page(page: PageView, compiled: bool = False, embedded: bool = False, csp: str = SITE_CSP,
                inline_css: str | None = None) -> str:
    """Return a page's HTML. ``embedded``: for a single file (its stylesheet ``inline_css``, no links to files).

    ``compiled``: keep the compiled templates between builds.
    """
    env = make_environment(page.lang, compiled)
    return env.get_template("index.html").render(page=page, embedded=embedded, csp=csp, inline_css=inline_css)


def stylesheet() -> str:
    """Return the site's stylesheet: templates/style.css with the layout's widths filled in."""
    return make_environment().get_template("style.css").render(**LAYOUT)


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Return Jinja2's store of compiled templates in its private per-user folder, or None when there is none.

    Compiled templates are code (marshal), so they never go in the build cache, which others may share.
    """
    try:
        return jinja2.FileSystemBytecodeCache()  # checks that the folder is the user's own, mode 0700
    except (OSError, RuntimeError):
        return None
