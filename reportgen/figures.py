"""Draw the report's static figures in one language: loss overlays, heatmaps and the two graphs, as SVG.

A stage of its own, run before anything is written. Each figure is cached under
the hash of what draws it: the runs' parameters (training is a pure function of
them and of the code), the words, and the code. A rebuild with nothing changed
reads the SVG text back and never imports matplotlib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from pygments.formatters import HtmlFormatter

from .cache import Cache, content_key
from .config import Config
from .dag import Graph
from .evidence import GraphEvidence
from .fonts import warn_undrawable
from .i18n import N_, Translations
from .results import RunResult

#: A sweep of more runs than this gets no overlay of loss curves (they would be unreadable).
OVERLAY_LIMIT = 12
#: The words of the figures, translated per language (the plots' own words are in plots.py).
AUTOGRAD_TITLE = N_("PyTorch autograd graph of the course loss")
AUTOGRAD_CAPTION = N_("autograd graph: grad_fn nodes, arrows follow next_functions to the leaves")
FORWARD_TITLE = N_("Data-flow graph of the course loss")
FORWARD_CAPTION = N_("data view: tensors are nodes, operations label the arrows")
LEAF = N_("leaf")

#: How code listings are highlighted (their colours go into the stylesheet).
CODE_STYLE = HtmlFormatter(cssclass="highlight")


@dataclass(frozen=True)
class Figure:
    """One SVG figure of a page."""

    name: str  # its file name under figures/
    svg: str

    @property
    def url(self) -> str:
        """Where the page finds it, relative to the site root."""
        return f"figures/{self.name}"

    @property
    def size(self) -> tuple[int, int]:
        """Its width and height in CSS pixels, read from the SVG (matplotlib writes points)."""
        head = self.svg[: self.svg.find(">", self.svg.find("<svg")) + 1]
        width, height = (re.search(rf'\b{k}="([\d.]+)(pt|px)?"', head) for k in ("width", "height"))
        scale = 4 / 3 if width and width.group(2) == "pt" else 1.0
        return (round(float(width.group(1)) * scale) if width else 0, round(float(height.group(1)) * scale) if height else 0)


@dataclass(frozen=True)
class Figures:
    """Every figure of one page."""

    overlays: Mapping[str, Figure]  # by sweep name
    heatmaps: Mapping[str, Figure]  # by sweep name, for the sweeps that vary two parameters
    autograd: Figure | None
    forward: Figure | None

    def all(self) -> list[Figure]:
        """Return every figure, to write."""
        graphs = [f for f in (self.autograd, self.forward) if f is not None]
        return [*self.overlays.values(), *self.heatmaps.values(), *graphs]


def draw_figures(config: Config, results: Sequence[RunResult], evidence: GraphEvidence | None, lang: str,
                 tr: Translations, cache: Cache) -> Figures:
    """Draw (or load) every figure of the page in ``lang``; ``config`` is already in that language."""
    def plots():
        warn_undrawable(s.title for s in config.sweeps)  # before the first figure is drawn, for all of them
        return _plots()

    overlays, heatmaps = {}, {}
    for sweep in config.sweeps:
        runs = [r for r in results if r.spec.sweep == sweep.name]
        params = [r.spec.params.to_dict() for r in runs]
        if runs and len(runs) <= OVERLAY_LIMIT:
            overlays[sweep.name] = _cached(cache, f"loss-{sweep.name}.svg", [lang, sweep.title, params],
                                           lambda: plots().loss_overlay_svg(sweep.title, runs, tr))
        if runs and len(sweep.vary) == 2:
            keys = tuple(sweep.vary)
            heatmaps[sweep.name] = _cached(cache, f"heatmap-{sweep.name}.svg", [lang, sweep.title, keys, params],
                                           lambda: plots().heatmap_svg(sweep.title, keys, runs, tr))
    autograd = forward = None
    if evidence is not None:
        autograd = _graph_figure(cache, "autograd-graph.svg", evidence.autograd, AUTOGRAD_TITLE, AUTOGRAD_CAPTION, tr)
        forward = _graph_figure(cache, "forward-graph.svg", evidence.forward, FORWARD_TITLE, FORWARD_CAPTION, tr)
    return Figures(overlays, heatmaps, autograd, forward)


def code_listing(source: str, language: str, cache: Cache) -> str:
    """Return ``source`` highlighted as HTML by Pygments ("python" or "toml"), cached like a figure."""
    def draw() -> str:
        from pygments import highlight
        from pygments.lexers import get_lexer_by_name

        return highlight(source, get_lexer_by_name(language), CODE_STYLE)

    key = content_key("listing", [language, source])
    html = cache.load_text("listings", key, ".html")
    if html is None:
        html = draw()
        cache.store_text("listings", key, ".html", html)
    return html


def listing_css() -> str:
    """Return the colours of the code listings, for the stylesheet."""
    return CODE_STYLE.get_style_defs(".highlight")


def _graph_figure(cache: Cache, name: str, graph: Graph, title: str, caption: str, tr: Translations) -> Figure:
    from .dag import graph_svg

    words = [tr.gettext(title), tr.gettext(caption), tr.gettext(LEAF)]
    return _cached(cache, name, [repr(graph), words], lambda: graph_svg(graph, *words))


def _cached(cache: Cache, name: str, payload: object, draw) -> Figure:
    """Return the figure ``name`` drawn from ``payload``, from the cache when it holds it."""
    key = content_key("figure", [name, payload])
    svg = cache.load_text("figures", key, ".svg")
    if svg is None:
        svg = draw()
        cache.store_text("figures", key, ".svg", svg)
    return Figure(name, svg)


def _plots():
    """Import the plotting module (and matplotlib) only when a figure must really be drawn."""
    from . import plots

    return plots
