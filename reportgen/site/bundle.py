"""Pack one page into a single HTML file: stylesheet, figures, posters, filmstrips, videos and font inside.

For places that take one file and nothing else: a course platform that accepts
an upload and strips scripts, an e-mail attachment read offline. Every file the
page refers to becomes a data: URI in place; the stylesheet is inlined, and the
file's Content-Security-Policy allows that stylesheet (by its hash) and data:
URIs of exactly the kinds it embeds, so the page can make no request at all.
GIFs are left out: the MP4 and the poster already show the same animation.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from reportgen.core.formatting import MB, megabytes
from reportgen.infra.errors import BuildAbort
from reportgen.site.embed import data_uri
from reportgen.site.pages import SitePage, render_page
from reportgen.site.writer import page_files

#: How the bundled page refers to the build's other files: relative src, srcset (one URL each), poster and href values.
_URL = re.compile(r'\b(src|srcset|poster|href)="(?![a-z][a-z0-9+.-]*:|#)([^"]*)"')


@dataclass(frozen=True)
class Piece:
    """One embedded file and the bytes it adds to the single file."""

    url: str
    size: int


@dataclass(frozen=True)
class Bundle:
    """One page as a single HTML file."""

    lang: str
    html: bytes
    pieces: tuple[Piece, ...]

    @property
    def size(self) -> int:
        return len(self.html)

    def heaviest(self, count: int = 3) -> list[tuple[str, int, list[Piece]]]:
        """Return the kinds of piece that weigh most, heaviest first: (kind, bytes, its pieces, heaviest first)."""
        kinds: dict[str, list[Piece]] = {}
        for piece in self.pieces:
            kinds.setdefault(kind(piece.url), []).append(piece)
        ranked = [(name, sum(p.size for p in group), sorted(group, key=lambda p: (-p.size, p.url)))
                  for name, group in kinds.items()]
        return sorted(ranked, key=lambda k: (-k[1], k[0]))[:count]


def kind(url: str) -> str:
    """Return what an embedded file is, as the size refusal names it."""
    for suffix, name in ((".mp4", "videos"), (".filmstrip.png", "filmstrips"), (".poster.png", "posters"),
                         (".svg", "figures"), (".woff2", "font"), (".vtt", "captions")):
        if url.endswith(suffix):
            return name
    return url


def bundle_page(page: SitePage, results: bytes, siblings: Mapping[str, str]) -> Bundle:
    """Return ``page`` as one HTML file; ``siblings``: the file name of each other language's single file."""
    files = page_files(page)
    files["results.json"] = results
    pieces: dict[str, Piece] = {}

    def embed(url: str) -> str:
        uri = data_uri(url, files[url])
        pieces[url] = Piece(url, len(uri) + (pieces[url].size if url in pieces else 0))
        return uri

    font = page.font
    css = page.css(embed(font.url) if font is not None else None)
    csp = single_file_csp(css, font=font is not None, media=any(u.endswith(".mp4") for u in files))
    # Rendered again rather than rewritten: the template drops links to files that are not embedded (GIFs).
    html = render_page(page.view, embedded=True, csp=csp, inline_css=css)
    links = {f"../{lang}/index.html": name for lang, name in siblings.items()}
    links["./"] = "#"

    def rewrite(match: re.Match) -> str:
        attr, url = match.group(1), match.group(2)
        if url in links:
            return f'{attr}="{links[url]}"'
        if url not in files:
            raise BuildAbort(f"single file: the page refers to {url}, which the build did not make")
        download = f' download="{Path(url).name}"' if attr == "href" else ""
        return f'{attr}="{embed(url)}"{download}'

    html = _URL.sub(rewrite, html)
    return Bundle(page.view.lang, html.encode("utf-8"), tuple(pieces.values()))


def single_file_csp(css: str, font: bool, media: bool) -> str:
    """Return the policy of a single file: its own stylesheet by hash, data: images, and nothing else it lacks."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    parts = ["default-src 'none'", f"style-src 'sha256-{digest}'", "img-src data:"]
    if media:
        parts.append("media-src data:")
    if font:
        parts.append("font-src data:")
    parts += ["script-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'"]
    return "; ".join(parts)


def check_size(bundle: Bundle, name: str, max_mb: float) -> None:
    """Refuse a single file above ``max_mb`` megabytes, naming its heaviest pieces and how to shrink them."""
    if bundle.size <= max_mb * MB:
        return
    heaviest = ", ".join(f"{name} {megabytes(size)}" + (f" ({len(group)}, largest {group[0].url})" if len(group) > 1 else "")
                         for name, size, group in bundle.heaviest())
    raise BuildAbort(
        f"--single-file {name}: {megabytes(bundle.size)}, above --max-size {max_mb:g} MB; heaviest: {heaviest}; "
        "animate fewer runs (a sweep's animate), lower [render] dpi, raise frame_every, "
        "leave mp4 out of [render] formats, or raise --max-size"
    )
