"""Static figures of the report: one overlay of a sweep's loss curves, as SVG."""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .frames import FLOOR_COLOR, THRESHOLD_COLOR  # noqa: E402
from .results import RunResult  # noqa: E402


def loss_overlay_svg(title: str, results: Sequence[RunResult]) -> str:
    """Draw every run's loss curve of a sweep on one log axis, with thresholds and floors."""
    fig = Figure(figsize=(7.5, 3.6), dpi=100)
    FigureCanvasSVG(fig)
    ax = fig.subplots()
    thresholds, floors = {}, {}
    for i, r in enumerate(results):
        loss = np.where(np.isfinite(r.trajectory.loss), r.trajectory.loss, np.nan)
        label = ", ".join(f"{k} = {v:g}" for k, v in r.spec.varied.items())
        ax.plot(np.arange(len(loss)), loss, lw=1.6, color=f"C{i % 10}", label=label)
        if r.trajectory.status == "diverged":
            ax.plot([len(loss) - 1], [loss[-1]], "x", color=f"C{i % 10}", ms=8)
        if r.spec.params.threshold > 0:
            thresholds[round(r.spec.params.threshold, 12)] = r.spec.params.threshold
        floors[round(r.analysis.loss_floor, 6)] = r.analysis.loss_floor
    for value in thresholds.values():
        ax.axhline(value, ls="--", lw=1, color=THRESHOLD_COLOR)
        ax.annotate(f"threshold {value:g}", (1, value), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=7, color=THRESHOLD_COLOR)
    for value in floors.values():
        ax.axhline(value, ls=":", lw=1.4, color=FLOOR_COLOR)
        ax.annotate(f"floor {value:.4f}", (0, value), xycoords=("axes fraction", "data"), ha="left",
                    va="top", fontsize=7, color=FLOOR_COLOR)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    fig.tight_layout()
    buffer = io.StringIO()
    # A fixed hash salt and no date: the same runs give byte-identical SVG.
    with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
    return buffer.getvalue()
