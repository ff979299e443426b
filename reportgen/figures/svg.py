"""SVG text made fit for the page, without matplotlib: ids made unique, styles as attributes, heatmap cells as links."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class CellLink:
    """Where a heatmap cell leads, what it says, and the explorer picks of its run."""

    href: str
    title: str
    pick: str


def inline_svg(svg: str, prefix: str, size: tuple[int, int], label: str) -> str:
    """Return a matplotlib SVG ready to sit in the page, under its CSP: no style, ids made unique by ``prefix``.

    The page allows no inline style, so each ``style`` becomes presentation attributes, and the
    stylesheet's defaults go on the root, where the elements inherit them.
    """
    body = re.sub(r"\s*<(metadata|style)\b.*?</\1>", "", svg[svg.index(">", svg.index("<svg")) + 1:], flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', body))
    body = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', body)
    body = re.sub(r'(xlink:href="#|url\(#)([^")]+)',
                  lambda m: m.group(1) + (f"{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(2)), body)
    body = re.sub(r'\sstyle="([^"]*)"', lambda m: "".join(
        f' {k.strip()}="{v.strip()}"' for k, v in (d.split(":", 1) for d in m.group(1).split(";") if ":" in d)), body)
    view_box = re.search(r'viewBox="([^"]+)"', svg[: svg.index(">", svg.index("<svg"))])
    width, height = size
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" '
            f'height="{height}" viewBox="{view_box.group(1) if view_box else f"0 0 {width} {height}"}" '
            f'stroke-linejoin="round" stroke-linecap="butt" role="group" aria-label="{html.escape(label)}">'
            f"{body}")


def link_cells(svg: str, links: Sequence[CellLink]) -> str:
    """Name each cell's link with its title, keep it in the page (no new window), and mark its ring with its picks.

    A cell's link leaves the tab order: the explorer's radio groups reach every run by keyboard.
    """
    def cell(match: re.Match) -> str:
        link = links[int(match.group(1))]
        name = html.escape(link.title)
        return (f'<g id="cell-{match.group(1)}">{match.group(2)}<a href="{html.escape(link.href)}" class="cell" '
                f'tabindex="-1" aria-label="{name}"><title>{name}</title>')

    svg = re.sub(r'<g id="cell-(\d+)">(\s*)<a xlink:href="[^"]*" target="_blank">', cell, svg)
    return re.sub(r'<g id="ring-(\d+)">',
                  lambda m: f'<g id="ring-{m.group(1)}" class="ring" data-pick="{links[int(m.group(1))].pick}">', svg)
