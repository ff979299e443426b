"""One run's loss curve among its sweep's, as a small SVG written by hand (no matplotlib: hundreds a second).

The run's curve is drawn bold over the sweep's other curves in grey, on a log
scale, with its stop threshold (dashed) and loss floor (dotted): its place on the
sweep's overlay. Only numbers are drawn, so the chart needs no font for any
language; the page says what the axes are.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from reportgen.core import palette
from reportgen.core.formatting import power_of_ten
from reportgen.core.sampling import evenly_spaced
from reportgen.figures.marks import curve
from reportgen.train.run import RunResult, Status

#: The chart's size in CSS pixels, and its plot area inside it. A phone gets it NARROW_WIDTH wide, where its
#: text keeps about the size it is written in (FONT_PX); the wide chart shrunk to a phone's 340 px would halve it.
WIDTH, HEIGHT = 640, 200
NARROW_WIDTH = 360
FONT_PX = 11
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 10, 26
#: Most points a curve is drawn with; a longer run is sampled evenly, its last point kept.
MAX_POINTS = 300


def loss_chart_svg(run: RunResult, others: Sequence[RunResult], chart_width: int = WIDTH) -> str:
    """Draw ``run``'s loss per iteration over ``others`` (its sweep's other runs), on a log scale, ``chart_width`` px wide."""
    curves = [finite_curve(r) for r in (*others, run)]
    marks = [v for v in (run.spec.params.threshold, run.analysis.loss_floor) if v > 0]
    values = np.concatenate([c[1] for c in curves] + [np.asarray(marks, float)])
    lo, hi = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
    hi = max(hi, lo + 1)
    x_max = max(max(len(r.trajectory.loss) - 1 for r in (*others, run)), 1)
    width, height = chart_width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(t: np.ndarray | float) -> np.ndarray:
        return LEFT + np.asarray(t, float) / x_max * width

    def py(loss: np.ndarray | float) -> np.ndarray:
        return TOP + (hi - np.log10(np.asarray(loss, float))) / (hi - lo) * height

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart_width}" height="{HEIGHT}" '
           f'viewBox="0 0 {chart_width} {HEIGHT}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="{FONT_PX}">',
           f'<rect width="{chart_width}" height="{HEIGHT}" fill="#fff"/>']
    step = 1 if hi - lo <= 6 else math.ceil((hi - lo) / 6)
    for k in range(lo, hi + 1, step):
        y = float(py(10.0**k))
        out.append(f'<line x1="{LEFT}" x2="{LEFT + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{palette.GRID}"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{palette.MUTED}">'
                   f'{power_of_ten(10.0**k)}</text>')
    for t in x_ticks(x_max, 4 if chart_width >= WIDTH else 3):
        x = float(px(t))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + height}" y2="{TOP + height + 4}" '
                   f'stroke="{palette.MUTED}"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="{palette.MUTED}">{t}</text>')
    out.append(f'<path d="M{LEFT} {TOP}V{TOP + height}H{LEFT + width}" fill="none" stroke="{palette.MUTED}"/>')
    for color, value, dash in ((palette.THRESHOLD, run.spec.params.threshold, "6 4"),
                               (palette.FLOOR, run.analysis.loss_floor, "2 3")):
        if value > 0:
            y = float(py(value))
            out.append(f'<line x1="{LEFT}" x2="{LEFT + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                       f'stroke-width="1.5" stroke-dasharray="{dash}"/>')
    for (ts, losses), r in zip(curves, (*others, run)):
        mine = r is run
        out.append(f'<polyline points="{points(px(ts), py(losses))}" fill="none" '
                   f'stroke="{palette.LOSS if mine else palette.OTHER_RUNS}" stroke-width="{2.5 if mine else 1.2}" '
                   'stroke-linejoin="round"/>')
    ts, losses = curves[-1]
    if len(ts):
        x, y = float(px(ts[-1])), float(py(losses[-1]))
        if run.trajectory.status == Status.DIVERGED:
            out.append(f'<path d="M{x - 5:.1f} {y - 5:.1f}l10 10m0-10l-10 10" stroke="{palette.LOSS}" stroke-width="2"/>')
        else:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{palette.LOSS}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def finite_curve(run: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """Return a run's (iterations, losses) up to its last finite positive loss, at most MAX_POINTS of them: the
    loss its sweep's overlay draws (a minibatch run's over all its points)."""
    loss = np.asarray(curve(run), float)
    keep = np.flatnonzero(np.isfinite(loss) & (loss > 0))
    keep = keep[evenly_spaced(len(keep), MAX_POINTS)]
    return keep.astype(float), loss[keep]


def x_ticks(x_max: int, steps: int = 4) -> list[int]:
    """Return round iteration counts from 0 to ``x_max``, about ``steps`` steps of 1, 2 or 5 times a power of ten."""
    raw = x_max / steps
    base = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return list(range(0, x_max + 1, int(step)))


def points(xs: np.ndarray, ys: np.ndarray) -> str:
    """Write an SVG polyline's points."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
