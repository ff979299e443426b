"""The two figures of the answer at the top of the page: what the course's window showed, and what the loop did.

The window is recreated at the course script's own size, limits and 5-pt red line, every 20th
iteration drawn over the ones before (the script never clears its axes); three of those lines are
drawn again, thin, so a reader sees how close they come (within a pixel, then two). Beside it, the loss above its floor
on a log axis keeps falling where the loss itself looks flat.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reportgen.core import palette  # noqa: E402
from reportgen.core.formatting import num  # noqa: E402
from reportgen.core.i18n import Translations  # noqa: E402
from reportgen.figures.plots import fonts_for  # noqa: E402
from reportgen.teach.theory import StudentAnswer  # noqa: E402
from reportgen.train.course import COURSE_WINDOW, PILE_MOST_LINES, CourseWindow  # noqa: E402
from reportgen.train.run import RunResult  # noqa: E402

#: The three iterations drawn again on the window, in these colours: told apart by their legend and dash too.
MARKED = (("#1f5fa8", "-"), ("#e6a100", "--"), ("#111111", ":"))
#: Both figures' size in inches: at 96 px to the inch, 528 x 396 CSS px; a phone shows them at about 0.65.
SIZE = (5.5, 4.125)
TEXT_PT = 11


def window_svg(run: RunResult, q: StudentAnswer, tr: Translations) -> str:
    """The course's window at the end of the run, with the marked iterations' lines drawn again on top."""
    words = {"title": tr.gettext("The course's window, recreated: every 20th line drawn over the last"),
             "line": tr.gettext("iteration %(t)s"), "last": tr.gettext("iteration %(t)s (the last drawn)")}
    with fonts_for(*words.values()):
        w, window = COURSE_WINDOW, run.trajectory
        fig = Figure(figsize=SIZE, dpi=100)
        FigureCanvasSVG(fig)
        ax = fig.add_axes(w.axes)
        x, y = run.data.x.ravel(), run.data.y.ravel()
        ends = np.array([x.min(), x.max()])  # the script plots y_pred at every x: a straight line between these
        ax.scatter(x, y, color=palette.POINTS, s=18, zorder=1)
        for i in distinct_lines(run, w):  # the pile the student saw (one red, so its order does not show)
            ax.plot(ends, window.w[i] * ends + window.b[i], "-", color="red", lw=5, zorder=2)
        for (color, dash), i in zip(MARKED, q.marked_iterations):
            text = (words["last"] if i == q.last_drawn else words["line"]) % {"t": i}
            ax.plot(ends, window.w[i] * ends + window.b[i], dash, color=color, lw=1.4, label=text, zorder=3)
        ax.set_xlim(*w.xlim)
        ax.set_ylim(*w.ylim)
        ax.tick_params(labelsize=TEXT_PT - 1)
        ax.legend(fontsize=TEXT_PT - 1, loc="lower right", frameon=True)
        ax.set_title(words["title"], fontsize=TEXT_PT)
        return _svg(fig)


def distinct_lines(run: RunResult, w: CourseWindow = COURSE_WINDOW, most: int = PILE_MOST_LINES) -> list[int]:
    """Return the iterations of the course's pile whose line is not already in it, to a tenth of a pixel.

    A run of 300,000 iterations piles 15,000 lines, nearly all on one another: drawn one by one they made a
    10 MB figure of what a few hundred lines draw exactly. A pile with more than ``most`` lines distinct to a
    tenth of a pixel keeps those distinct to a fifth, then to 0.4 px, and so on: the figure stays bounded (each line
    is about 200 bytes of SVG).
    """
    drawn = np.asarray(w.drawn(run.trajectory.iterations_run), dtype=np.int64)
    if drawn.size == 0:
        return []
    x = run.data.x.ravel()
    ends = np.array([float(x.min()), float(x.max())])
    t = run.trajectory
    heights = np.outer(t.w[drawn].astype(np.float64), ends) + t.b[drawn].astype(np.float64)[:, None]
    pixels = heights / (w.ylim[1] - w.ylim[0]) * w.axes[3] * w.size[1]  # unclipped
    step = 0.1
    while True:
        _, first = np.unique(np.nan_to_num(np.round(pixels / step), nan=np.inf), axis=0, return_index=True)
        if len(first) <= most:
            return drawn[np.sort(first)].tolist()
        step *= 2


def excess_svg(run: RunResult, q: StudentAnswer, tr: Translations) -> str:
    """Loss minus the floor on a log axis, with the marked iterations and their values."""
    words = {"title": tr.gettext("Loss above the floor %(floor)s, log scale") % {"floor": num(q.loss_floor)},
             "iteration": tr.gettext("iteration"), "excess": tr.gettext("loss − floor")}
    with fonts_for(*words.values()):
        loss = np.asarray(run.trajectory.loss, dtype=np.float64)
        excess = loss - q.loss_floor
        shown = np.where(excess > 0, excess, np.nan)
        fig = Figure(figsize=SIZE, dpi=100, layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.subplots()
        ax.plot(np.arange(len(loss)), shown, color=palette.LOSS, lw=1.8)
        for (color, _), i in zip(MARKED, _points(q, len(loss))):
            ax.plot([i], [shown[i]], "o", color=color, ms=6, mec="black", mew=0.6)
            ax.annotate(f"{i}: {num(excess[i], 2)}", (i, shown[i]), xytext=(4, 6), textcoords="offset points",
                        fontsize=TEXT_PT - 1, color=palette.GRAPH_TEXT)
        ax.set_yscale("log")
        ax.tick_params(which="both", labelsize=TEXT_PT - 1)
        ax.set_xlabel(words["iteration"], fontsize=TEXT_PT)
        ax.set_ylabel(words["excess"], fontsize=TEXT_PT)
        ax.set_title(words["title"], fontsize=TEXT_PT)
        return _svg(fig)


def _points(q: StudentAnswer, length: int) -> Sequence[int]:
    """Where the excess plot marks its values: the window's settling iterations, and the last iteration run."""
    return [*(i for i in (q.settle_pixel, q.settle_2px) if i is not None and i < length - 1), length - 1]


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
    return buffer.getvalue()
