"""Subset the CJK font to the characters a page uses, as a WOFF2 web font: a cached stage.

A page with Chinese text would otherwise depend on the reader's fonts: without a
CJK system font it shows empty boxes. The stylesheet names this font first, for
the CJK code points only (``unicode-range``), so every reader sees the page's
Chinese in the face the figures use, and Latin text keeps the platform's font.
(Named after the platforms' own CJK fonts instead, it was never tried for some
headings: Chromium without a CJK font kept them as empty boxes.) It is cut from
the Noto Sans SC of :mod:`reportgen.core.fonts`, keeping only the glyphs of the page's
CJK characters, and cached under the hash of those characters.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from reportgen.core.fonts import CJK_START, cjk_codepoints, cjk_font_path, needs_cjk
from reportgen.core.formatting import KB
from reportgen.infra.cache import Cache, content_key

log = logging.getLogger("reportgen")

#: The family name the stylesheet asks for (templates/style.css names it in its font lists).
FAMILY = "reportgen Noto Sans SC"
#: A page's subset above this size is still written, with a warning: it slows the first view.
BUDGET = 400 * KB


@dataclass(frozen=True)
class WebFont:
    """A page's font: the subset's WOFF2 bytes and how the stylesheet loads it."""

    name: str  # its file name under fonts/, with a hash of its content
    data: bytes
    characters: int

    @property
    def url(self) -> str:
        """Where the site holds it, relative to its root."""
        return f"fonts/{self.name}"

    def css(self, src: str) -> str:
        """Return the @font-face rule that loads it from ``src`` (a URL relative to the stylesheet, or data:)."""
        return (f'@font-face {{ font-family: "{FAMILY}"; src: url("{src}") format("woff2"); '
                f"unicode-range: U+{CJK_START:X}-FFFF; font-display: swap; }}\n")


def page_font(html: str, cache: Cache) -> WebFont | None:
    """Return the font subset for the characters of a page (its HTML), or None when it needs no CJK font."""
    if not needs_cjk([html]):
        return None
    source = cjk_font_path()
    cmap = cjk_codepoints()
    text = "".join(sorted({ch for ch in html if CJK_START <= ord(ch) <= 0xFFFF and ord(ch) in cmap}))
    if not text:  # only characters the font cannot draw either (emoji, say)
        return None
    key = content_key("webfont", [source.name, source.stat().st_size, text])
    data = cache.cached_bytes("fonts", key, ".woff2", lambda: subset_woff2(str(source), text))
    if len(data) > BUDGET:
        log.warning("the page's font subset is %d KB (%d characters), above %d KB; the first view loads it",
                    len(data) // KB, len(text), BUDGET // KB)
    name = f"noto-sans-sc-{hashlib.sha256(data).hexdigest()[:12]}.woff2"
    return WebFont(name, data, len(text))


def subset_woff2(path: str, text: str) -> bytes:
    """Return the font at ``path`` cut down to the glyphs of ``text``, as WOFF2 (Brotli-compressed)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every glyph at INFO

    options = subset.Options()
    options.flavor = "woff2"
    # fontTools' default layout features (locl, kern, palt, vert, ...): '*' would add 300 unused glyph variants.
    options.name_IDs = ["*"]  # the licence and copyright travel with the font
    options.name_languages = ["*"]
    options.notdef_outline = True
    with TTFont(path, lazy=False, recalcTimestamp=False) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        font.flavor = "woff2"
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()
