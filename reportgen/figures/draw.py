"""Draw the report's static figures in one language: loss overlays, heatmaps and the two graphs, as SVG.

A stage of its own, run before anything is written. Each figure is cached under
the hash of what draws it: the runs' parameters (training is a pure function of
them and of the code), the words, and the code. A rebuild with nothing changed
reads the SVG text back and never imports matplotlib.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from reportgen.config.layout import SweepLayout, anchor
from reportgen.config.schema import Config
from reportgen.core.fonts import warn_undrawable
from reportgen.core.formatting import run_label
from reportgen.core.i18n import N_, Translations
from reportgen.figures.loss_chart import NARROW_WIDTH, WIDTH, loss_chart_svg
from reportgen.figures.svg import CellLink, inline_svg
from reportgen.infra.cache import Cache, content_key
from reportgen.teach.evidence import Graph, GraphEvidence
from reportgen.teach.regimes import RegimeMap, regime_map
from reportgen.teach.remedies import compares_remedies
from reportgen.teach.sweeps import slope_trends
from reportgen.teach.theory import StudentAnswer
from reportgen.train.run import RunResult, Status, course_result

#: The words of the figures, translated per language (the plots' own words are in plots.py).
AUTOGRAD_TITLE = N_("PyTorch autograd graph of the course loss")
AUTOGRAD_CAPTION = N_("autograd graph: grad_fn nodes, arrows follow next_functions to the leaves")
FORWARD_TITLE = N_("Data-flow graph of the course loss")
FORWARD_CAPTION = N_("data view: tensors are nodes, operations label the arrows")
LEAF = N_("leaf")

#: What a heatmap cell's link says about its run.
CELL_TITLES = {Status.STOPPED: N_("%(label)s: stopped at iteration %(t)s"),
               Status.DIVERGED: N_("%(label)s: diverged at iteration %(t)s"),
               Status.BUDGET_EXHAUSTED: N_("%(label)s: budget exhausted after %(t)s iterations")}


@dataclass(frozen=True)
class Figure:
    """One SVG figure of a page."""

    name: str  # its file name under figures/
    svg: str
    inline: bool = False  # the page holds it (its links work only there), not a file
    narrow: Figure | None = None  # the same figure drawn for a phone's width, which the page offers there

    @property
    def url(self) -> str:
        """Where the page finds it, relative to the site root."""
        return f"figures/{self.name}"

    def markup(self, label: str) -> str:
        """Return the SVG to place inside the page, named ``label`` for assistive technology."""
        return inline_svg(self.svg, self.name.removesuffix(".svg"), self.size, label)

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
    charts: Mapping[str, Figure]  # by run id: the run's loss curve among its sweep's, for the runs with a card
    window: Figure | None = None  # the answer first: the course's window recreated, for the student's run
    excess: Figure | None = None  # and its loss above the floor, log scale
    step: Figure | None = None  # one gradient step of the course run on its loss surface
    slopes: Mapping[str, Figure] = field(default_factory=dict)  # by sweep: each slope's start error, split in two
    paths: Mapping[str, Figure] = field(default_factory=dict)  # by sweep: the remedies' paths on one loss surface
    regimes: Mapping[str, RegimeMap] = field(default_factory=dict)  # by sweep: what its regime map's cells say

    def all(self) -> list[Figure]:
        """Return every figure to write as a file."""
        graphs = [f for f in (self.autograd, self.forward, self.window, self.excess, self.step, *self.slopes.values(),
                                    *self.paths.values()) if f is not None]
        figures = [*self.overlays.values(), *self.heatmaps.values(), *graphs, *self.charts.values()]
        return [g for f in figures if not f.inline for g in (f, f.narrow) if g is not None]


def draw_figures(config: Config, results: Sequence[RunResult], layouts: Mapping[str, SweepLayout],
                 evidence: GraphEvidence | None, student: StudentAnswer | None, lang: str, tr: Translations,
                 cache: Cache) -> Figures:
    """Draw (or load) every figure of the page in ``lang``; ``config`` is already in that language."""
    def plots():
        warn_undrawable(s.title for s in config.sweeps)  # before the first figure is drawn, for all of them
        return _plots()

    overlays, heatmaps, charts, regime_maps = {}, {}, {}, {}
    for sweep in config.sweeps:
        layout = layouts[sweep.name]
        runs = [r for r in results if r.spec.sweep == sweep.name]
        params = [r.spec.params.to_dict() for r in runs]
        if layout.overlaid:
            overlays[sweep.name] = _cached_twice(
                cache, f"loss-{sweep.name}", [lang, sweep.title, params],
                lambda narrow: plots().loss_overlay_svg(sweep.title, runs, tr, plots().NARROW if narrow else plots().WIDE))
        if layout.heatmap:
            keys = sweep.dimensions
            links = cell_links(runs, layout, tr) if layout.explored else []
            regimes = regime_map(runs, keys)
            cells = regimes.cells if regimes else None
            if regimes is not None:
                regime_maps[sweep.name] = regimes
            payload = [lang, sweep.title, keys, params, [list(vars(link).values()) for link in links], cells is not None]
            figure = _cached(cache, f"heatmap-{sweep.name}.svg", payload,
                             lambda: plots().heatmap_svg(sweep.title, keys, runs, tr, links, cells))
            heatmaps[sweep.name] = Figure(figure.name, figure.svg, inline=layout.explored)
        # The loss curve of each run with a card, among its sweep's when the sweep is overlaid. Cached like the
        # overlay: a run's parameters (its seed among them) decide its loss curve.
        for r, mine in zip(runs, params):
            if layout.has_card(r.id):
                others = [o for o in runs if o is not r] if layout.overlaid else []
                payload = [mine, [p for p in params if p is not mine] if layout.overlaid else []]
                charts[r.id] = _cached_twice(cache, f"curve-{r.id}", payload,
                                             lambda narrow: loss_chart_svg(r, others, NARROW_WIDTH if narrow else WIDTH))
    autograd = forward = None
    if evidence is not None:
        autograd = _graph_figure(cache, "autograd-graph.svg", evidence.autograd, AUTOGRAD_TITLE, AUTOGRAD_CAPTION, tr)
        forward = _graph_figure(cache, "forward-graph.svg", evidence.forward, FORWARD_TITLE, FORWARD_CAPTION, tr)
    window = excess = None
    if student is not None:
        run = next(r for r in results if r.id == student.run_id)
        payload = [lang, run.spec.params.to_dict(), repr(student)]
        window = _cached(cache, "answer-window.svg", payload, lambda: _answer().window_svg(run, student, tr))
        excess = _cached(cache, "answer-excess.svg", payload, lambda: _answer().excess_svg(run, student, tr))
    step = None
    course = course_result(results, config.defaults)
    # A step that leaves every float (lr 1e30) has nothing to draw: the page states its numbers alone.
    if evidence is not None and evidence.step is not None and course is not None \
            and all(math.isfinite(v) for v in (evidence.step.w, evidence.step.b, *evidence.step.after)):
        proof = evidence.step
        step = _cached(cache, "step.svg", [lang, course.spec.params.to_dict(), repr(proof)],
                       lambda: _step().step_svg(course, proof, tr))
    slopes = {}
    for sweep in config.sweeps:
        for trend in slope_trends([r for r in results if r.spec.sweep == sweep.name]):
            if not trend.fixed and trend.errors and trend.same_start:
                slopes[sweep.name] = _cached(cache, f"slopes-{sweep.name}.svg", [lang, repr(trend)],
                                             lambda: _slopes().slope_errors_svg(trend, tr))
    paths = {}
    for sweep in config.sweeps:
        runs = [r for r in results if r.spec.sweep == sweep.name]
        if compares_remedies(runs):
            paths[sweep.name] = _cached_twice(
                cache, f"paths-{sweep.name}", [lang, sweep.title, [r.spec.params.to_dict() for r in runs]],
                lambda narrow: _paths().paths_svg(sweep.title, runs, tr, _paths().NARROW if narrow else _paths().WIDE))
    return Figures(overlays, heatmaps, autograd, forward, charts, window, excess, step, slopes, paths, regime_maps)



def cell_links(runs: Sequence[RunResult], layout: SweepLayout, tr: Translations) -> list[CellLink]:
    """Return each run's heatmap cell link: to its card, titled with its values and how it ended."""
    links = []
    for r in runs:
        t = r.trajectory
        end = {Status.STOPPED: t.stop_iteration, Status.DIVERGED: t.diverged_at}.get(t.status, t.iterations_run)
        title = tr.gettext(CELL_TITLES[t.status]) % {"label": run_label(r.spec.varied), "t": end}
        links.append(CellLink(f"#{anchor(r.id)}", title, layout.picks[r.id]))
    return links


def _graph_figure(cache: Cache, name: str, graph: Graph, title: str, caption: str, tr: Translations) -> Figure:
    from reportgen.figures.dag import graph_svg

    words = [tr.gettext(title), tr.gettext(caption), tr.gettext(LEAF)]
    return _cached(cache, name, [repr(graph), words], lambda: graph_svg(graph, *words))


def _cached(cache: Cache, name: str, payload: object, draw: Callable[[], str]) -> Figure:
    """Return the figure ``name`` drawn from ``payload``, from the cache when it holds it."""
    return Figure(name, cache.cached_text("figures", content_key("figure", [name, payload]), ".svg", draw))


def _cached_twice(cache: Cache, stem: str, payload: object, draw: Callable[[bool], str]) -> Figure:
    """Return the figure ``<stem>.svg`` with its drawing for a phone, ``<stem>.narrow.svg``; ``draw(narrow)``."""
    narrow = _cached(cache, f"{stem}.narrow.svg", payload, lambda: draw(True))
    return replace(_cached(cache, f"{stem}.svg", payload, lambda: draw(False)), narrow=narrow)


def _paths():
    """Import the paths' figure (and matplotlib) only when it must really be drawn."""
    from reportgen.figures import paths
    return paths


def _slopes():
    """Import the slopes' figure (and matplotlib) only when it must really be drawn."""
    from reportgen.figures import slopes

    return slopes


def _step():
    """Import the step's figure (and matplotlib) only when it must really be drawn."""
    from reportgen.figures import step

    return step


def _answer():
    """Import the answer's figures (and matplotlib) only when one must really be drawn."""
    from reportgen.figures import answer

    return answer


def _plots():
    """Import the plotting module (and matplotlib) only when a figure must really be drawn."""
    from reportgen.figures import plots

    return plots
