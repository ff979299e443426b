"""Why the slope changes the count, drawn: one start, each slope's minimum, and the start's error split in two.

For each run of a slope sweep, the start (w0, 0) and its minimum (w*, b*) are joined, and the error between
them is split along the Hessian's eigen-directions: the part along the slow direction (solid), which each
step shrinks least, and the part along the fast one (dotted). Equal axis scales keep the split's right angle.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg", force=True)

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reportgen.core import palette  # noqa: E402
from reportgen.core.formatting import num  # noqa: E402
from reportgen.core.i18n import Translations  # noqa: E402
from reportgen.figures.plots import fonts_for  # noqa: E402
from reportgen.teach.sweeps import Trend  # noqa: E402

SIZE = (6.0, 4.6)
TEXT_PT = 10


def slope_errors_svg(trend: Trend, tr: Translations) -> str:
    """Each run's start-to-minimum error, split into its slow and fast parts, on the (w, b) plane."""
    words = {"title": tr.gettext("The start's error, split along the slow and the fast direction"),
             "start": tr.gettext("start"), "slow": tr.gettext("along the slow direction"),
             "fast": tr.gettext("along the fast direction")}
    with fonts_for(*words.values(), *trend.labels):
        fig = Figure(figsize=SIZE, dpi=100, layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.subplots()
        for i, e in enumerate(trend.errors):
            color = f"C{i % 10}"
            sw, sb = e.slow_direction
            # The foot: from the minimum, along the slow direction by the slow part of the error.
            foot = (e.minimum[0] + e.along_slow * sw, e.minimum[1] + e.along_slow * sb)
            ax.plot(*zip(e.minimum, foot), "-", color=color, lw=2.4,
                    label=f"{e.label}: {num(abs(e.along_slow))}" + (f" → {trend.counts[i]}" if trend.counts else ""))
            ax.plot(*zip(foot, e.start), ":", color=color, lw=1.6)
            ax.plot(*e.minimum, "*", color=color, ms=12, mec="black", mew=0.5)
        start = trend.errors[0].start
        ax.plot(*start, "o", color="black", ms=7)
        ax.annotate(words["start"], start, xytext=(6, -12), textcoords="offset points", fontsize=TEXT_PT)
        ax.plot([], [], "-", color=palette.MUTED, lw=2.4, label=words["slow"])
        ax.plot([], [], ":", color=palette.MUTED, lw=1.6, label=words["fast"])
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("w", fontsize=TEXT_PT)
        ax.set_ylabel("b", fontsize=TEXT_PT)
        ax.tick_params(labelsize=TEXT_PT - 1)
        ax.legend(fontsize=TEXT_PT - 1, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        ax.set_title(words["title"], fontsize=TEXT_PT)
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
        return buffer.getvalue()
