"""The page's code listings, highlighted by Pygments and cached like a figure."""

from __future__ import annotations

from pygments.formatters import HtmlFormatter

from reportgen.infra.cache import Cache, content_key

#: How code listings are highlighted (their colours go into the stylesheet).
CODE_STYLE = HtmlFormatter(cssclass="highlight")


def code_listing(source: str, language: str, cache: Cache) -> str:
    """Return ``source`` highlighted as HTML by Pygments ("python" or "toml"), cached like a figure."""
    def draw() -> str:
        from pygments import highlight
        from pygments.lexers import get_lexer_by_name

        return highlight(source, get_lexer_by_name(language), CODE_STYLE)

    return cache.cached_text("listings", content_key("listing", [language, source]), ".html", draw)


def listing_css() -> str:
    """Return the colours of the code listings, for the stylesheet."""
    return CODE_STYLE.get_style_defs(".highlight")
