"""Every path of a sweep on one loss surface: the remedies side by side.

A standardised run trains in its own coordinates, but the line w'x' + b' is the line w x + b, so its path is
mapped back to (w, b) in the original units and drawn on the same contours (the runs share their data).
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
from reportgen.core.formatting import run_label  # noqa: E402
from reportgen.core.i18n import Translations  # noqa: E402
from reportgen.figures.plots import Layout, fonts_for  # noqa: E402
from reportgen.train.run import RunResult, Status  # noqa: E402

#: For the page's column (shown 1:1: its smallest text 10.7 px), and for a phone (384 px wide, shown nearly 1:1).
WIDE = Layout((6.4, 5.0), 10, 8, 1)
NARROW = Layout((4.0, 5.6), 9, 8, 1)
MARKERS = "osD^vP*X"


def paths_svg(title: str, runs: Sequence[RunResult], tr: Translations, layout: Layout = WIDE) -> str:
    """Contours of the first run's loss, every run's (w, b) path on them, and where each one ended.

    The view holds every finite point of every path (a diverged run's within |1000|) and the minimum.
    """
    ends = {Status.STOPPED: tr.gettext("stopped at %(t)s"), Status.DIVERGED: tr.gettext("diverged at %(t)s"),
            Status.BUDGET_EXHAUSTED: tr.gettext("budget exhausted")}
    labels = []
    for r in runs:
        t = r.trajectory
        end = ends[t.status] % {"t": t.stop_iteration if t.status == Status.STOPPED else t.diverged_at}
        labels.append(f"{run_label(r.spec.varied)}: {end}")
    words = {"title": title, "minimum": tr.gettext("least squares"),
             "note": tr.gettext("standardised runs mapped back to the original w and b")}
    with fonts_for(*words.values(), *labels):
        first = runs[0]
        x, y = first.data.x.astype(np.float64), first.data.y.astype(np.float64)
        a = first.analysis
        finite = [(r.trajectory.w, r.trajectory.b) for r in runs]
        w_all = np.concatenate([w[np.isfinite(w) & (np.abs(w) < 1e3)] for w, _ in finite] + [[a.w_star]])
        b_all = np.concatenate([b[np.isfinite(b) & (np.abs(b) < 1e3)] for _, b in finite] + [[a.b_star]])
        w_lo, w_hi = w_all.min(), w_all.max()
        b_lo, b_hi = b_all.min(), b_all.max()
        pad_w, pad_b = 0.08 * max(w_hi - w_lo, 0.2), 0.15 * max(b_hi - b_lo, 0.5)
        ws = np.linspace(w_lo - pad_w, w_hi + pad_w, 160)
        bs = np.linspace(b_lo - pad_b, b_hi + pad_b, 160)
        gw, gb = np.meshgrid(ws, bs)
        surface = np.mean(0.5 * (y[None, None, :] - (gw[..., None] * x + gb[..., None])) ** 2, axis=-1)
        fig = Figure(figsize=layout.size, dpi=100, layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.subplots()
        levels = np.geomspace(max(surface.min(), 1e-9) * 1.02, surface.max(), 14)
        ax.contour(gw, gb, surface, levels=levels, colors=palette.CONTOUR, linewidths=0.7)
        for i, (r, label) in enumerate(zip(runs, labels)):
            colour = palette.SERIES[i % len(palette.SERIES)]
            w, b = r.trajectory.w, r.trajectory.b
            ax.plot(w, b, color=colour, lw=1.4, alpha=0.9, marker=MARKERS[i % len(MARKERS)], markevery=[len(w) - 1],
                    ms=7, label=label, linestyle="--" if r.spec.params.standardize else "-")
        ax.plot([a.w_star], [a.b_star], "*", color="black", ms=14, label=words["minimum"])
        ax.set_xlim(ws[0], ws[-1])
        ax.set_ylim(bs[0], bs[-1])
        ax.set_xlabel("w", fontsize=layout.text_pt)
        ax.set_ylabel("b", fontsize=layout.text_pt)
        ax.tick_params(labelsize=layout.small_pt)
        if any(r.spec.params.standardize for r in runs):
            ax.text(0.01, 0.01, "- - " + words["note"], transform=ax.transAxes, fontsize=layout.small_pt, va="bottom")
        ax.legend(fontsize=layout.small_pt, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=layout.legend_columns,
                  frameon=False)
        ax.set_title(words["title"], fontsize=layout.text_pt)
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
        return buffer.getvalue()
