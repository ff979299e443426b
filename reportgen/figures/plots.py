"""Static figures of the report: a sweep's loss curves and its heatmap, as SVG, in the page's language."""

from __future__ import annotations

import io
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reportgen.core import palette  # noqa: E402
from reportgen.core.fonts import drawable, families, needs_cjk  # noqa: E402
from reportgen.core.formatting import num, param, run_label  # noqa: E402
from reportgen.core.i18n import Translations  # noqa: E402
from reportgen.core.sampling import evenly_spaced  # noqa: E402
from reportgen.figures.marks import HEATMAP_EDGES, curve, knee  # noqa: E402
from reportgen.figures.svg import CellLink, link_cells  # noqa: E402
from reportgen.teach.regimes import Cell  # noqa: E402
from reportgen.train.run import RunResult, Status  # noqa: E402

#: Each status but "stopped" in its own colour and hatching (face, hatch, hatch colour): told apart without colour.
STATUS_STYLE = {Status.BUDGET_EXHAUSTED: palette.BUDGET_EXHAUSTED_CELL, Status.DIVERGED: palette.DIVERGED_CELL}

#: A loss curve longer than this is drawn from this many evenly spaced values, its ends included: the figure is
#: some 700 pixels wide, and a million-point curve would cost matplotlib about 60 bytes a point.
OVERLAY_POINTS = 4000


@dataclass(frozen=True)
class Layout:
    """A loss overlay's size and type: for the page's column, or for a phone, where it is shown 1:1 or nearly."""

    size: tuple[float, float]  # inches; the SVG has 72 points, 96 CSS pixels, to the inch
    text_pt: float  # ticks and axis labels
    small_pt: float  # the legend and the threshold and floor labels: the smallest text
    legend_columns: int

    @property
    def smallest_px(self) -> float:
        """The smallest text's height in CSS pixels, at the figure's own size."""
        return self.small_pt * 4 / 3


#: The page's column (about 760 CSS px), and a phone's (about 340): there, the wide one would shrink its 9 px
#: labels to 4 px, so the page offers this one below layout.PHONE_MAX_REM. Its smallest text: 10.7 px at 384 px.
WIDE = Layout((7.5, 3.6), 10, 7, 4)
NARROW = Layout((4.0, 3.4), 9, 8, 2)
#: The heatmap's smallest text (its ticks and legend), in points; a phone shows it layout.DIAGRAM_MIN_REM wide and scrolls it.
HEATMAP_SMALLEST_PT = 8
#: Its labels' least distance apart along an axis, in points; and the share of the figure's width its cells take
#: (the rest: the row labels, the colour bar and its label).
HEATMAP_LABEL_PITCH_PT = 14
HEATMAP_PLOT_SHARE = 0.6
#: Its height in inches: a row of cells, and the title, the lr labels and the legend below them.
HEATMAP_ROW_IN = 0.32
HEATMAP_MARGIN_IN = 1.8


@contextmanager
def fonts_for(*texts: str) -> Iterator[None]:
    """Make the figures created inside draw ``texts``: DejaVu, and the CJK font when a text needs it."""
    sans, _ = families(needs_cjk(texts))
    with matplotlib.rc_context({"font.family": list(sans)}):
        yield


def loss_overlay_svg(title: str, results: Sequence[RunResult], tr: Translations, layout: Layout = WIDE) -> str:
    """Draw every run's loss curve of a sweep on one log axis, with thresholds and floors."""
    words = {"threshold": tr.gettext("threshold %(value)s"), "floor": tr.gettext("floor %(value)s"),
             "iteration": tr.gettext("iteration"), "loss": tr.gettext("loss (log scale)")}
    title = drawable(title)
    with fonts_for(title, *words.values()):
        return _loss_overlay_svg(title, results, words, layout)


def _loss_overlay_svg(title: str, results: Sequence[RunResult], words: dict[str, str], layout: Layout) -> str:
    fig = Figure(figsize=layout.size, dpi=100, layout="constrained")
    FigureCanvasSVG(fig)
    ax = fig.subplots()
    thresholds, floors = {}, {}
    # Runs on the same data share one path and differ only in where they end: the shorter runs are drawn on top,
    # and each run's end is marked (a dot where it stopped, a cross where it diverged), so none hides another.
    longest = max(len(r.trajectory.loss) for r in results)
    for i, r in enumerate(results):
        drawn = curve(r)
        loss = np.where(np.isfinite(drawn), drawn, np.nan)
        label = run_label(r.spec.varied)
        iterations = evenly_spaced(len(loss), OVERLAY_POINTS)
        color, z = f"C{i % 10}", 2 + (longest - len(loss)) / longest
        ax.plot(iterations, loss[iterations], lw=1.6, color=color, label=label, zorder=z)
        if r.trajectory.status == Status.DIVERGED:  # at its last finite loss: an overflowed one is not drawn
            last = int(np.flatnonzero(np.isfinite(loss))[-1]) if np.isfinite(loss).any() else 0
            ax.plot([last], [loss[last]], "x", color=color, ms=8, zorder=z + 1)
        elif r.trajectory.status == Status.STOPPED:
            ax.plot([len(loss) - 1], [loss[-1]], "o", color=color, ms=6, mec="black", mew=0.6, zorder=z + 1)
        at = knee(r)
        if at is not None:
            ax.plot([at], [loss[at]], "D", color=color, ms=5, mec="black", mew=0.6, zorder=z + 1)
        if r.spec.params.threshold > 0:
            thresholds[round(r.spec.params.threshold, 12)] = r.spec.params.threshold
        floors[round(r.analysis.loss_floor, 6)] = r.analysis.loss_floor
    for value in thresholds.values():
        ax.axhline(value, ls="--", lw=1, color=palette.THRESHOLD)
        ax.annotate(words["threshold"] % {"value": param(value)}, (1, value), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=layout.small_pt, color=palette.THRESHOLD, xytext=(-2, 0), textcoords="offset points")
    for value in floors.values():
        ax.axhline(value, ls=":", lw=1.4, color=palette.FLOOR)
        ax.annotate(words["floor"] % {"value": num(value)}, (0, value), xycoords=("axes fraction", "data"), ha="left",
                    va="top", fontsize=layout.small_pt, color=palette.FLOOR, xytext=(3, 0), textcoords="offset points")
    ax.set_yscale("log")
    ax.tick_params(which="both", labelsize=layout.text_pt)
    ax.set_xlabel(words["iteration"], fontsize=layout.text_pt)
    ax.set_ylabel(words["loss"], fontsize=layout.text_pt)
    ax.set_title(title, fontsize=10)
    # Below the axes: inside, it would cover curves or the threshold labels at the right end.
    fig.legend(fontsize=layout.small_pt, frameon=False, loc="outside lower center",
               ncol=legend_columns([run_label(r.spec.varied) for r in results], layout))
    buffer = io.StringIO()
    # A fixed hash salt and no date: the same runs give byte-identical SVG.
    with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
    return buffer.getvalue()


#: A legend entry's width, in ems of its text: a character of DejaVu Sans is at most about 0.62 em wide on average,
#: and the line sample and the gaps take about 4.5 em more.
CHAR_EM, ENTRY_EXTRA_EM = 0.62, 4.5


def legend_columns(labels: Sequence[str], layout: Layout) -> int:
    """As many legend columns as fit across the figure with its longest label (at most the layout's): with four,
    the remedies' "optimizer = momentum, standardize = false" ran off both edges."""
    entry_pt = (max(map(len, labels)) * CHAR_EM + ENTRY_EXTRA_EM) * layout.small_pt
    return max(1, min(len(labels), layout.legend_columns, int(layout.size[0] * 72 // entry_pt)))


def heatmap_svg(title: str, keys: tuple[str, str], results: Sequence[RunResult], tr: Translations,
                links: Sequence[CellLink] = (), regimes: Sequence[Cell] | None = None) -> str:
    """Draw a 2-D sweep as a heatmap of stop iterations, statuses told apart, bounds overlaid.

    ``links``: one per run, in order, to make each cell a link to its run with a title, and a ring
    that the page shows around the selected cell. ``regimes``: one per run, in order: each cell then carries
    its measured regime's letter (* where theory predicted another), and the oscillation edge is drawn too.
    """
    plain = all(r.spec.params.optimizer == "gd" for r in results)
    words = {"colorbar": tr.gettext("iterations to stop"),
             "bound": tr.gettext("stability bound 2/λmax") if plain else tr.gettext("stability bound of the rule"),
             "floor": tr.gettext("loss floor"), "budget": tr.gettext("budget exhausted"),
             "diverged": tr.gettext("diverged"), "edge": tr.gettext("overshoots from here (theory)"),
             "key": tr.gettext("M monotone, O oscillating, D diverging, B budget exhausted; * theory differs")}
    title = drawable(title)
    with fonts_for(title, *words.values()):
        return _heatmap_svg(title, keys, results, words, links, regimes)


def _heatmap_svg(title: str, keys: tuple[str, str], results: Sequence[RunResult], words: dict[str, str],
                 links: Sequence[CellLink], regimes: Sequence[Cell] | None = None) -> str:
    from matplotlib import patheffects
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.patches import Patch, Rectangle

    row_key, col_key = keys
    rows = sorted({r.spec.varied[row_key] for r in results})
    cols = sorted({r.spec.varied[col_key] for r in results})
    stop = np.full((len(rows), len(cols)), np.nan)
    status = np.zeros((len(rows), len(cols)), dtype=int)  # 0 stopped, 1 budget exhausted, 2 diverged
    codes = {Status.STOPPED: 0, Status.BUDGET_EXHAUSTED: 1, Status.DIVERGED: 2}
    for r in results:
        i, j = rows.index(r.spec.varied[row_key]), cols.index(r.spec.varied[col_key])
        status[i, j] = codes[r.trajectory.status]
        if r.trajectory.stop_iteration is not None:
            stop[i, j] = r.trajectory.stop_iteration + 1  # +1: a stop at 0 still shows on a log colour scale

    fig = Figure(figsize=(7.5, max(3.2, HEATMAP_ROW_IN * len(rows) + HEATMAP_MARGIN_IN)), dpi=100)
    FigureCanvasSVG(fig)
    ax = fig.subplots()
    finite = stop[np.isfinite(stop)]
    norm = LogNorm(vmin=max(1, finite.min()), vmax=max(2, finite.max())) if finite.size else None
    image = ax.imshow(np.ma.masked_invalid(stop), cmap="viridis", norm=norm, aspect="auto", origin="lower",
                      interpolation="nearest")
    for kind, (color, hatch, ink) in STATUS_STYLE.items():
        code = codes[kind]
        layer = np.ma.masked_where(status != code, np.ones_like(stop))
        ax.imshow(layer, cmap=ListedColormap([color]), aspect="auto", origin="lower", interpolation="nearest")
        for i, row in enumerate(status == code):  # one hatched box per stretch of a row
            for start, end in stretches(row):
                ax.add_patch(Rectangle((start - 0.5, i - 0.5), end - start, 1, fill=False, hatch=hatch,
                                       edgecolor=ink, lw=0))
    for n, (r, link) in enumerate(zip(results, links)):
        i, j = rows.index(r.spec.varied[row_key]), cols.index(r.spec.varied[col_key])
        # Above everything drawn in the cell (its letter too), so that a click anywhere in it follows the link.
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="none", gid=f"cell-{n}", url=link.href,
                               zorder=6))
        ax.add_patch(Rectangle((j - 0.44, i - 0.44), 0.88, 0.88, fill=False, edgecolor="white", lw=2.5, gid=f"ring-{n}", zorder=6,
                               path_effects=[patheffects.withStroke(linewidth=5, foreground="black")]))
    if finite.size:
        fig.colorbar(image, ax=ax, label=words["colorbar"])

    if regimes is not None:
        for r, cell in zip(results, regimes):
            i, j = rows.index(r.spec.varied[row_key]), cols.index(r.spec.varied[col_key])
            dark = status[i, j] == codes[Status.DIVERGED] or (
                status[i, j] == codes[Status.STOPPED] and norm is not None and norm(stop[i, j]) < 0.6)
            ax.text(j, i, cell.measured.letter + ("" if cell.agrees else "*"), ha="center", va="center",
                    fontsize=HEATMAP_SMALLEST_PT, color="white" if dark else "black", zorder=4)

    # Where theory puts the edges: lr = the rule's stability bound (2/lambda_max for gd), threshold = loss floor,
    # and on a regime map the lr from which the steep direction overshoots.
    styles = {"bound": (words["bound"], "--"), "floor": (words["floor"], "--"), "overshoot": (words["edge"], ":")}
    edges = [(key, bound, *styles[name]) for name, key, bound in HEATMAP_EDGES
             if name != "overshoot" or regimes is not None]
    for (axis_key, other_key, values, others), (key, bound, label, dash) in (
            (axes, edge) for axes in ((col_key, row_key, cols, rows), (row_key, col_key, rows, cols)) for edge in edges):
        if axis_key != key or len(values) < 2:
            continue
        positions = []
        for other in others:
            run = next(r for r in results if r.spec.varied[other_key] == other)
            positions.append(float(np.interp(bound(run), values, np.arange(len(values)), left=np.nan, right=np.nan)))
        if not np.isfinite(positions).any():  # the edge lies outside the grid: no line, and nothing in the legend
            continue
        # Each cell spans index ± 0.5: run the line across whole cells, as steps.
        line = np.repeat(np.arange(len(others)), 2) + np.tile([-0.5, 0.5], len(others))
        positions = np.repeat(positions, 2)
        style = {"color": "white", "ls": dash, "lw": 2, "label": label,
                 "path_effects": [patheffects.withStroke(linewidth=4, foreground="black")]}
        if axis_key == col_key:
            ax.plot(positions, line, **style)
        else:
            ax.plot(line, positions, **style)
    # A tick per cell; a label on as many as fit side by side (100 lr labels would print over one another).
    width, height = (fig.get_size_inches() - (0, HEATMAP_MARGIN_IN)) * 72  # the cells' share, about
    for axis, values, length, turn in ((ax.xaxis, cols, HEATMAP_PLOT_SHARE * width, 45), (ax.yaxis, rows, height, 0)):
        labelled = labelled_ticks(len(values), length)
        axis.set_ticks(labelled, [param(values[i]) for i in labelled], rotation=turn, fontsize=HEATMAP_SMALLEST_PT)
        if len(labelled) < len(values):
            axis.set_ticks(range(len(values)), minor=True)
    ax.set_xlabel(col_key)
    ax.set_ylabel(row_key)
    ax.set_title(title, fontsize=10)
    handles = [Patch(facecolor=color, hatch=hatch, edgecolor=ink, lw=0, label=words[key])  # the statuses it shows
               for key, (kind, (color, hatch, ink)) in zip(("budget", "diverged"), STATUS_STYLE.items())
               if (status == codes[kind]).any()]
    handles += ax.get_legend_handles_labels()[0]
    below = 0.0
    if regimes is not None:  # the letters' key on a line of its own, under the legend
        fig.text(0.5, 0.01, words["key"], ha="center", va="bottom", fontsize=HEATMAP_SMALLEST_PT)
        below = 0.05
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, below), ncol=3, fontsize=HEATMAP_SMALLEST_PT,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08 + below * 1.6, 1, 1))
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
    return link_cells(buffer.getvalue(), links)


def labelled_ticks(count: int, length_pt: float) -> list[int]:
    """Return which of ``count`` evenly spaced ticks along ``length_pt`` points get a label: every k-th from the
    first, at least HEATMAP_LABEL_PITCH_PT apart."""
    step = max(1, math.ceil(count * HEATMAP_LABEL_PITCH_PT / length_pt))
    return list(range(0, count, step))


def stretches(row: np.ndarray) -> list[tuple[int, int]]:
    """Return the [start, stop) index ranges where a row of booleans is True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
