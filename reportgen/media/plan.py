"""What a run's animation shows, as plain data: no matplotlib, so a cached build never loads it.

A :class:`FrameJob` is one run's numbers and words. :func:`plan` turns it into a
:class:`FramePlan`: which iterations the MP4 and the GIF show, how fast they play,
and the limits of the three views. The renderer (:mod:`reportgen.media.frames`) only
draws what the plan says, and the explanations read the same plan (when the line
stops moving visibly), so a frame, a table and results.json describe one state.

Where things sit in a frame is :mod:`reportgen.media.layouts`: a wide drawing for a laptop and a
portrait one for a phone. The plan is the same for both: the same frames of the same states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np

from reportgen.config.schema import RenderSettings
from reportgen.core.fonts import needs_cjk
from reportgen.core.i18n import N_, Translations
from reportgen.core.sampling import evenly_spaced
from reportgen.media.layouts import WIDE_FRAME
from reportgen.train.run import RunResult, Status

#: How long the final frame is held, in seconds.
FINAL_HOLD = 1.0
#: The slowest a video plays: a short run is not stretched below this.
MIN_FPS = 5
#: Iterations of a diverged run the loss-surface view is sized for; later ones may leave it.
DIVERGED_VIEW_STEPS = 6
#: Largest GIF preview, in bytes; a bigger one is written again with half its frames.
GIF_BUDGET = 1_500_000


@dataclass(frozen=True)
class FrameLabels:
    """The words of a frame, translated before they travel to a worker (plain strings only)."""

    true_line: str = N_("true")
    fit: str = N_("fit")
    fit_above: str = N_("fit above the panel:\ny = %(w)sx + %(b)s")
    fit_below: str = N_("fit below the panel:\ny = %(w)sx + %(b)s")
    minimum: str = N_("least squares")
    true_point: str = N_("true")
    slow: str = N_("slow")
    fast: str = N_("fast")
    left_view: str = N_("the path left this view\nat iteration %(t)s")
    iteration: str = N_("iteration")
    loss: str = N_("loss")
    threshold: str = N_("stop < %(threshold)s")
    floor: str = N_("floor %(floor)s")
    stopped: str = N_("loss %(loss)s < %(threshold)s: stop")
    diverged: str = N_("diverged at iteration %(t)s")
    budget: str = N_("budget of %(budget)s iterations used up: no stop")
    stop_contour: str = N_("stop contour: loss = %(threshold)s")
    no_stop_contour: str = N_("no stop contour: %(threshold)s < floor %(floor)s")
    overflow: str = N_("overflow")

    def texts(self) -> tuple[str, ...]:
        """Return every label, for choosing the fonts that can draw them."""
        return tuple(getattr(self, f.name) for f in fields(self))


def frame_labels(tr: Translations) -> FrameLabels:
    """Return the frame labels in the language of ``tr``."""
    return FrameLabels(**{f.name: tr.gettext(f.default) for f in fields(FrameLabels)})


@dataclass(frozen=True)
class FrameJob:
    """Everything needed to draw one run's frames (plain data, no torch)."""

    run_id: str
    title: str
    x: np.ndarray
    y: np.ndarray
    slope: float
    intercept: float
    threshold: float
    loss_floor: float
    w_star: float
    b_star: float
    hessian: tuple[tuple[float, float], tuple[float, float]]
    eigenvectors: tuple[tuple[float, float], tuple[float, float]]  # columns: slow, fast
    status: Status
    stop_iteration: int | None
    diverged_at: int | None
    loss: np.ndarray  # per iteration run, at (w[t], b[t])
    w: np.ndarray  # the w the forward pass of iteration t used
    b: np.ndarray
    frame_every: int = 1
    max_fps: int = 60
    seconds: float = 8.0
    gif_frames: int = 30
    labels: FrameLabels = field(default_factory=FrameLabels)

    @property
    def needs_cjk(self) -> bool:
        """True when the frame's words (labels or the config's title) need a CJK font."""
        return needs_cjk((self.title, *self.labels.texts()))

    def loss_at(self, w: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """Return L(w, b) in closed form: floor + 0.5 e^T H e, e = (w - w*, b - b*)."""
        (hww, hwb), (_, hbb) = self.hessian
        dw, db = np.asarray(w, np.float64) - self.w_star, np.asarray(b, np.float64) - self.b_star
        return self.loss_floor + 0.5 * (hww * dw * dw + 2 * hwb * dw * db + hbb * db * db)


def frame_job(result: RunResult, settings: RenderSettings, title: str = "",
              labels: FrameLabels | None = None) -> FrameJob:
    """Describe the animation of one run, with its title and words in the page's language."""
    t, a, p = result.trajectory, result.analysis, result.spec.params
    return FrameJob(
        run_id=result.id, title=title, x=result.data.x, y=result.data.y, slope=p.slope, intercept=p.intercept,
        threshold=p.threshold, loss_floor=a.loss_floor, w_star=a.w_star, b_star=a.b_star, hessian=a.hessian,
        eigenvectors=a.eigenvectors, status=t.status, stop_iteration=t.stop_iteration, diverged_at=t.diverged_at,
        loss=t.loss, w=t.w, b=t.b, frame_every=settings.frame_every, max_fps=settings.fps,
        seconds=settings.seconds, gif_frames=settings.gif_frames, labels=labels or FrameLabels(),
    )


def frame_plans(results: Sequence[RunResult], settings: RenderSettings) -> dict[str, FramePlan]:
    """Plan every animated run's animation once, by run id: the renderer, the captions and the explanations read
    it. (A run that is not animated has no plan: a 10,000-run grid would spend a second on them.)"""
    return {r.id: plan(frame_job(r, settings)) for r in results if r.spec.animate}


def settle_of(result: RunResult, frame_plan: FramePlan | None, settings: RenderSettings) -> int | None:
    """Return the iteration from which a run's fit stays within 1 px of its end in the report's frame (the frame
    it has, or would have when it is not animated)."""
    job = frame_job(result, settings)
    view = frame_plan.view if frame_plan is not None else DataView.of(job)
    return settle_iteration(job, view, WIDE_FRAME.pixels(settings.dpi)[1])


@dataclass(frozen=True)
class DataView:
    """The limits of a frame's data view: where the fit is drawn."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @classmethod
    def of(cls, job: FrameJob) -> "DataView":
        """Return the view of the points and the true line, never the fit."""
        return cls((0.0, max(float(job.x.max()), 1e-9) * 1.05), data_view(job))


@dataclass(frozen=True)
class FramePlan:
    """What the animation of one run shows and how it plays."""

    iterations: tuple[int, ...]  # drawn into the MP4, in order: every frame_every-th and the last
    gif: tuple[int, ...]  # the GIF preview: evenly spaced, the first and the last
    fps: int
    hold: int  # extra frames of the last state, about FINAL_HOLD seconds
    still: bool  # a run of one iteration: a picture, not a video
    view: DataView  # the data view: where the points, the true line and the fit are drawn
    w_range: tuple[float, float]  # the loss-surface view
    b_range: tuple[float, float]
    left_view_at: int | None  # the first iteration whose (w, b) lies outside the surface view
    loss_range: tuple[float, float]  # the loss view (log scale)
    contour_levels: tuple[float, ...]  # loss values of the surface's contours, ascending

    @property
    def seconds(self) -> float:
        """How long the MP4 plays, hold included."""
        return (len(self.iterations) + self.hold) / self.fps


def plan(job: FrameJob) -> FramePlan:
    """Decide what a run's animation shows: its frames, its speed and its views."""
    n = len(job.loss)
    drawn = list(range(0, n, job.frame_every))
    if drawn[-1] != n - 1:
        drawn.append(n - 1)
    fps = min(max(round(len(drawn) / job.seconds), MIN_FPS), job.max_fps)
    gif = evenly_spaced(n, job.gif_frames).tolist()
    w_range, b_range, left = surface_view(job)
    return FramePlan(
        iterations=tuple(drawn), gif=tuple(gif), fps=fps, hold=round(fps * FINAL_HOLD), still=n == 1,
        view=DataView.of(job), w_range=w_range, b_range=b_range, left_view_at=left, loss_range=loss_view(job),
        contour_levels=contour_levels(job, w_range, b_range),
    )


def data_view(job: FrameJob) -> tuple[float, float]:
    """Return the y limits of the data view: the points and the true line, never the fit."""
    x_hi = max(float(job.x.max()), 1e-9) * 1.05
    ends = [job.intercept, job.slope * x_hi + job.intercept]
    lo, hi = min(float(job.y.min()), *ends), max(float(job.y.max()), *ends)
    pad = 0.08 * max(hi - lo, 1e-6)
    return (lo - pad, hi + pad)


def surface_view(job: FrameJob) -> tuple[tuple[float, float], tuple[float, float], int | None]:
    """Return the (w, b) box of the loss-surface view, and where the path first leaves it.

    The box holds the minimum, the true line's point and the path: all of it for a run
    that converges, its first steps for one that diverges.
    """
    w, b = job.w.astype(np.float64), job.b.astype(np.float64)
    finite = np.isfinite(w) & np.isfinite(b)
    steps = len(w) if job.status != Status.DIVERGED else min(len(w), DIVERGED_VIEW_STEPS)
    ws = [job.w_star, job.slope, *w[:steps][finite[:steps]]]
    bs = [job.b_star, job.intercept, *b[:steps][finite[:steps]]]
    w_lo, w_hi, b_lo, b_hi = min(ws), max(ws), min(bs), max(bs)
    w_pad, b_pad = 0.12 * max(w_hi - w_lo, 0.05), 0.12 * max(b_hi - b_lo, 0.05)
    w_range, b_range = (w_lo - w_pad, w_hi + w_pad), (b_lo - b_pad, b_hi + b_pad)
    outside = ~finite | (w < w_range[0]) | (w > w_range[1]) | (b < b_range[0]) | (b > b_range[1])
    left = int(np.argmax(outside)) if outside.any() else None
    return w_range, b_range, left


#: Grid of the loss surface's contours, per axis of its view.
SURFACE_GRID = 200


def contour_levels(job: FrameJob, w_range: tuple[float, float], b_range: tuple[float, float],
                   count: int = 8) -> tuple[float, ...]:
    """Return contour losses from the start's down towards the floor, each a quarter of the one above it in excess.

    The smallest ellipse kept spans at least 4 grid cells along w and along b, so it is drawn whole.
    """
    start = float(job.loss_at(job.w[0], job.b[0])) - job.loss_floor
    if not math.isfinite(start) or start <= 0:
        return ()
    (hww, hwb), (_, hbb) = job.hessian
    det = hww * hbb - hwb * hwb
    if det <= 0:
        return ()
    cell_w, cell_b = ((hi - lo) / SURFACE_GRID for lo, hi in (w_range, b_range))
    # The level set L = floor + c spans +-sqrt(2c H^-1_ww) in w and +-sqrt(2c H^-1_bb) in b.
    smallest = max((4 * cell_w) ** 2 * det / (2 * hbb), (4 * cell_b) ** 2 * det / (2 * hww))
    excess = [start * 0.25**k for k in range(count)]
    return tuple(sorted(job.loss_floor + c for c in excess if c >= smallest))


def loss_view(job: FrameJob) -> tuple[float, float]:
    """Return the limits of the loss view (log scale): every finite loss, the threshold and the floor."""
    finite = job.loss[np.isfinite(job.loss) & (job.loss > 0)].astype(np.float64)
    marks = [v for v in (job.threshold, job.loss_floor) if v > 0]
    values = [*finite.tolist(), *marks] or [1e-3, 1.0]
    return (min(values) / 1.6, max(values) * 1.6)


def fit_pixels(job: FrameJob, view: DataView, height_px: float, ts: np.ndarray) -> np.ndarray:
    """Return the fit's height in pixels above the data view's bottom, at three x's, for iterations ``ts``."""
    xs = np.linspace(view.x_range[0], view.x_range[1], 3)
    ys = np.outer(job.w[ts].astype(np.float64), xs) + job.b[ts].astype(np.float64)[:, None]
    lo, hi = view.y_range
    return (ys - lo) / (hi - lo) * WIDE_FRAME.fit.height * height_px


def settle_iteration(job: FrameJob, view: DataView, height_px: float) -> int | None:
    """Return the first iteration from which the drawn fit stays within 1 px of where it ends, or None.

    None for a run that diverged, or whose line is still moving by a pixel or more at the end.
    """
    if job.status == Status.DIVERGED or len(job.loss) < 2:
        return None
    ts = np.arange(len(job.loss))
    heights = fit_pixels(job, view, height_px, ts)
    off = np.abs(heights - heights[-1]).max(axis=1) >= 1.0
    if off[-2]:
        return None
    return int(np.flatnonzero(off)[-1] + 1) if off.any() else 0
