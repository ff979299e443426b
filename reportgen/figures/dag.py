"""A small directed acyclic graph, and its drawing as SVG with the root on top.

The layout is layered: longest-path rows, a zero-width dummy point for each row
an edge skips, barycentre ordering within rows, and edges spread across the side
of the box they meet. Good enough for graphs of a dozen nodes, with no Graphviz.
"""

from __future__ import annotations

import functools
import html
import unicodedata
from typing import Sequence

from reportgen.core import palette
from reportgen.teach.evidence import Graph, GraphNode

#: Escape text for an SVG element (quotes may stay: no text goes into an attribute).
escape = functools.partial(html.escape, quote=False)


_CHAR_W, _LINE_H, _PAD, _GAP_X, _GAP_Y, _MARGIN, _CAPTION_H = 8.0, 16, 9, 30, 50, 20, 30
#: The smallest text, an edge's label, in CSS px at the drawing's own size (a phone shows it layout.DIAGRAM_MIN_REM wide, scrolled).
EDGE_FONT_PX = 11


def _lines(node: GraphNode, leaf: str = "leaf") -> list[str]:
    """Return the text lines drawn inside a node's box."""
    lines = [f"{node.tensor} ({leaf})" if node.kind == "leaf" else node.label]
    if node.kind == "leaf" and node.label != node.tensor:
        lines.append(node.label)
    if node.shape is not None:
        lines.append(f"shape {node.shape}")
    return lines


def _width(text: str) -> float:
    """Return the drawn width of ``text``: a wide (CJK) character takes two monospace cells."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text) * _CHAR_W


def _num(v: float) -> str:
    """Write an SVG coordinate: one decimal at most."""
    return f"{v:.1f}".removesuffix(".0")


def graph_svg(graph: Graph, title: str, caption: str, leaf: str = "leaf") -> str:
    """Draw a graph with its root on top; return a standalone SVG document (``leaf`` marks the leaves)."""
    # Lay out with the root on top. The data view's edges point up, towards the loss.
    downward = graph.root not in {e.target for e in graph.edges}
    pairs = [(e.source, e.target) if downward else (e.target, e.source) for e in graph.edges]
    ids = [n.id for n in graph.nodes]
    above = {i: [u for u, v in pairs if v == i] for i in ids}
    rank: dict[str, int] = {}

    def depth(i: str) -> int:  # longest path from a top node
        if i not in rank:
            rank[i] = max((depth(u) + 1 for u in above[i]), default=0)
        return rank[i]

    bottom = max(depth(i) for i in ids)
    sources = {u for u, _ in pairs}
    rank.update({i: bottom for i in ids if i not in sources})  # leaves and inputs share the bottom row
    rows = [[i for i in ids if rank[i] == r] for r in range(bottom + 1)]
    width = {n.id: max(_width(s) for s in _lines(n, leaf)) + 2 * _PAD for n in graph.nodes}
    height = {n.id: len(_lines(n, leaf)) * _LINE_H + _PAD for n in graph.nodes}
    up: dict[str, list[str]] = {i: [] for i in ids}
    down: dict[str, list[str]] = {i: [] for i in ids}
    routes = []
    for k, (u, v) in enumerate(pairs):  # a long edge passes one zero-width dummy per row it skips
        chain = [u, *(f"_d{k}_{r}" for r in range(rank[u] + 1, rank[v])), v]
        for r, d in enumerate(chain[1:-1], rank[u] + 1):
            rows[r].append(d)
            rank[d], width[d], height[d], up[d], down[d] = r, 0.0, 0.0, [], []
        for a, c in zip(chain, chain[1:]):
            up[c].append(a)
            down[a].append(c)
        routes.append(chain)

    x = {i: float(j) for row in rows for j, i in enumerate(row)}
    for order, near in ((rows, up), (rows[::-1], down), (rows, up)):
        for row in order:  # move each node over its neighbours, keep the order, never overlap
            want = {i: sum(x[p] for p in near[i]) / len(near[i]) if near[i] else x[i] for i in row}
            row.sort(key=want.__getitem__)
            right = -float("inf")
            for i in row:
                x[i] = max(want[i], right + _GAP_X + width[i] / 2)
                right = x[i] + width[i] / 2
    shift = _MARGIN - min(x[i] - width[i] / 2 for i in x)
    x = {i: v + shift for i, v in x.items()}
    row_h = [max([height[i] for i in row] + [_LINE_H]) for row in rows]
    y, top = {}, _MARGIN + _CAPTION_H
    for row, h in zip(rows, row_h):
        y.update({i: top + h / 2 for i in row})
        top += h + _GAP_Y
    total_w = max(max(x[i] + width[i] / 2 for i in x) + _MARGIN, _width(caption) + 2 * _MARGIN)
    total_h = top - _GAP_Y + _MARGIN

    # Spread the edges meeting one side of a box across it, in the order of where they come from.
    port: dict[tuple[int, int], float] = {}
    for end, nxt in ((0, 1), (-1, -2)):
        sides: dict[str, list[int]] = {}
        for k, chain in enumerate(routes):
            sides.setdefault(chain[end], []).append(k)
        for i, ks in sides.items():
            ks.sort(key=lambda k: x[routes[k][nxt]])
            for j, k in enumerate(ks):
                port[(k, end)] = x[i] - width[i] / 2 + width[i] * (j + 1) / (len(ks) + 1)

    size = f'width="{_num(total_w)}" height="{_num(total_h)}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} viewBox="0 0 {_num(total_w)} {_num(total_h)}" '
        'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" {size} fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 12}" fill="{palette.GRAPH_CAPTION}">{escape(caption)}</text>',
    ]
    labels = []
    for k, (edge, chain) in enumerate(zip(graph.edges, routes)):
        u, v = chain[0], chain[-1]
        pts = [(port[(k, 0)], y[u] + height[u] / 2)]
        for d in chain[1:-1]:  # straight down through each skipped row
            pts += [(x[d], y[d] - row_h[rank[d]] / 2), (x[d], y[d] + row_h[rank[d]] / 2)]
        pts.append((port[(k, -1)], y[v] - height[v] / 2))
        if edge.label:  # beside the upper box: the consumer in the data view
            (ax, ay), (bx, by) = pts[0], pts[1]
            labels.append(f'<text x="{_num((ax + bx) / 2)}" y="{_num((ay + by) / 2 + 4)}" text-anchor="middle" '
                          f'font-size="{EDGE_FONT_PX}" fill="{palette.GRAPH_EDGE_LABEL}" stroke="#ffffff" stroke-width="4" '
                          f'paint-order="stroke">{escape(edge.label)}</text>')
        out.append(_arrow(pts if downward else pts[::-1]))
    for n in graph.nodes:
        fill, stroke = palette.GRAPH_NODE.get(n.kind, palette.GRAPH_NODE["function"])
        w, h, cx, top = width[n.id], height[n.id], x[n.id], y[n.id] - height[n.id] / 2
        out.append(f'<rect x="{_num(cx - w / 2)}" y="{_num(top)}" width="{_num(w)}" height="{_num(h)}" '
                   f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        for j, line in enumerate(_lines(n, leaf)):
            bold = ' font-weight="bold"' if j == 0 else ""
            out.append(f'<text x="{_num(cx)}" y="{_num(top + _PAD / 2 + _LINE_H * j + 13)}" '
                       f'text-anchor="middle" fill="{palette.GRAPH_TEXT}"{bold}>{escape(line)}</text>')
    return "\n".join(out + labels + ["</svg>"]) + "\n"


def _arrow(pts: Sequence[tuple[float, float]]) -> str:
    """Draw a polyline with an arrowhead at its last point."""
    (px, py), (qx, qy) = pts[-2], pts[-1]
    length = max(((qx - px) ** 2 + (qy - py) ** 2) ** 0.5, 1e-9)
    ux, uy = (qx - px) / length, (qy - py) / length
    head = [(qx, qy), (qx - 9 * ux + 4 * uy, qy - 9 * uy - 4 * ux), (qx - 9 * ux - 4 * uy, qy - 9 * uy + 4 * ux)]
    line = [*pts[:-1], (qx - 8 * ux, qy - 8 * uy)]  # stop short so the line does not blunt the tip

    def fmt(points: Sequence[tuple[float, float]]) -> str:
        return " ".join(f"{_num(a)},{_num(b)}" for a, b in points)

    return (f'<polyline points="{fmt(line)}" fill="none" stroke="{palette.GRAPH_ARROW}" stroke-width="1.4"/>'
            f'<polygon points="{fmt(head)}" fill="{palette.GRAPH_ARROW}"/>')
