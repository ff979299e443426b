"""Draw a run's animation frames off-screen, fast: one figure, static parts drawn once.

Each frame has two panels: the data with the true line and the current fit, and
the loss curve so far on a log axis with the stop threshold and the loss floor.
Only the artists that change (the fit, the loss curve, the title) are redrawn
onto a saved background: matplotlib blitting, on the Agg canvas.
"""

from __future__ import annotations

from typing import Iterator

import matplotlib

matplotlib.use("Agg", force=True)  # headless, before anything imports pyplot

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .animation import FIGSIZE, FrameJob  # noqa: E402
from .fonts import families  # noqa: E402
from .formatting import fixed, num, param  # noqa: E402
from .trajectory import Status  # noqa: E402

FIT_COLOR = "#d62728"
POINT_COLOR = "#1f77b4"
LOSS_COLOR = "#1f77b4"
THRESHOLD_COLOR = "#ff7f0e"
FLOOR_COLOR = "#2ca02c"
#: Fit parameters are clamped to this magnitude before drawing (a diverged run grows without bound).
CLAMP = 1e6


class FrameRenderer:
    """One reusable figure that draws the frames of one run after another."""

    def __init__(self, dpi: int = 80, cjk: bool = False) -> None:
        self.dpi = dpi
        sans, mono = families(cjk)
        # Every text made below takes its font list now: DejaVu first, then the CJK font when asked for.
        with matplotlib.rc_context({"font.family": list(sans)}):
            self._build(dpi, mono, cjk)

    def _build(self, dpi: int, mono: tuple[str, ...], cjk: bool) -> None:
        """Make the figure and every artist, once."""
        self.fig = Figure(figsize=FIGSIZE, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax_fit, self.ax_loss = ax, lx = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.83, wspace=0.22)
        # Every artist is made once and only updated per run: building ticks, texts and
        # legends anew for each run cost more than drawing all of its frames.
        self.points = ax.scatter([], [], s=18, color=POINT_COLOR, zorder=3, label="data")
        (self.true_line,) = ax.plot([], [], "--", color="0.45", lw=1.5, label="true line")
        (self.fit_line,) = ax.plot([], [], "-", color=FIT_COLOR, lw=3, label="fit y = wx + b", animated=True)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        self.fit_legend = ax.legend(loc="upper left", fontsize=8, frameon=False)
        # The CJK font has one weight: ask for bold only where every glyph has it.
        self.note = ax.text(0.97, 0.04, "", transform=ax.transAxes, ha="right", color=FIT_COLOR, fontsize=10,
                            fontweight="normal" if cjk else "bold", animated=True)
        lx.set_yscale("log")
        lx.set_xlabel("iteration")
        lx.set_ylabel("loss (log scale)")
        self.threshold_line = lx.axhline(1.0, ls="--", color=THRESHOLD_COLOR, lw=1.3, label="stop threshold")
        self.floor_line = lx.axhline(1.0, ls=":", color=FLOOR_COLOR, lw=1.6, label="loss floor")
        (self.loss_line,) = lx.plot([], [], "-", color=LOSS_COLOR, lw=1.6, label="loss", animated=True)
        (self.loss_dot,) = lx.plot([], [], "o", color=LOSS_COLOR, ms=4, animated=True)
        self.loss_legend = lx.legend(loc="upper right", fontsize=8, frameon=False)
        self.suptitle = self.fig.suptitle("", fontsize=11, y=0.985)
        self.title = self.fig.text(0.5, 0.885, "", ha="center", fontsize=12, family=list(mono), animated=True)
        self.job: FrameJob | None = None

    # ----------------------------------------------------------------- per run

    def setup(self, job: FrameJob) -> None:
        """Draw the static parts of ``job`` once and keep them as the background."""
        self.job = job
        ax, lx = self.ax_fit, self.ax_loss
        x_lo, x_hi = 0.0, max(float(job.x.max()), 1e-9) * 1.05
        xs = np.linspace(x_lo, x_hi, 64)
        true_y = job.slope * xs + job.intercept
        lows = [float(job.y.min()), float(true_y.min())]
        highs = [float(job.y.max()), float(true_y.max())]
        pad = 0.08 * max(max(highs) - min(lows), 1e-6)
        ax.set_xlim(x_lo, x_hi)
        self.ylim = (min(lows) - pad, max(highs) + pad)
        ax.set_ylim(*self.ylim)
        self.points.set_offsets(np.column_stack([job.x, job.y]))
        self.true_line.set_data(xs, true_y)
        self.fit_line.set_data(xs, xs * 0)
        words = job.labels
        fit_texts = self.fit_legend.get_texts()
        fit_texts[0].set_text(words.data)
        fit_texts[1].set_text(words.true_line % {"slope": param(job.slope), "intercept": param(job.intercept)})
        fit_texts[2].set_text(words.fit)
        lx.set_xlabel(words.iteration)
        lx.set_ylabel(words.loss_axis)
        self.xs = xs

        n = len(job.loss)
        finite = job.loss[np.isfinite(job.loss) & (job.loss > 0)]
        marks = [v for v in (job.threshold, job.loss_floor) if v > 0]
        lo = min([*finite.tolist(), *marks] or [1e-3])
        hi = max([*finite.tolist(), *marks] or [1.0])
        lx.set_xlim(-0.5, max(n - 0.5, 1))
        lx.set_ylim(lo / 1.6, hi * 1.6)
        # A log axis cannot show 0: such a line is hidden, and its legend entry says so.
        self.threshold_line.set_ydata([job.threshold] * 2)
        self.threshold_line.set_visible(job.threshold > 0)
        self.floor_line.set_ydata([job.loss_floor] * 2)
        self.floor_line.set_visible(job.loss_floor > 0)
        texts = self.loss_legend.get_texts()
        threshold = words.threshold if job.threshold > 0 else words.threshold_off_axis
        texts[0].set_text(threshold % {"threshold": param(job.threshold)})
        texts[1].set_text(words.floor % {"floor": num(job.loss_floor)})
        texts[2].set_text(words.loss)
        self.suptitle.set_text(job.title)
        self.loss_x = np.arange(n)
        self.loss_y = np.where(np.isfinite(job.loss), job.loss, np.nan)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def draw(self, t: int) -> np.ndarray:
        """Draw iteration ``t`` onto the background; return the frame as RGB (H, W, 3), even-sized."""
        job = self.job
        assert job is not None, "setup() first"
        w = float(np.clip(job.w[t], -CLAMP, CLAMP))
        b = float(np.clip(job.b[t], -CLAMP, CLAMP))
        self.canvas.restore_region(self.background)
        # Clamp the fit to the panel, so a line that left the chart runs along its edge, not out of sight.
        self.fit_line.set_ydata(np.clip(w * self.xs + b, *self.ylim))
        self.loss_line.set_data(self.loss_x[: t + 1], self.loss_y[: t + 1])
        self.loss_dot.set_data(self.loss_x[t : t + 1], self.loss_y[t : t + 1])
        words, over = job.labels, job.labels.overflow
        self.title.set_text(words.heading % {"t": t, "w": fixed(job.w[t], overflow=over),
                                             "b": fixed(job.b[t], overflow=over),
                                             "loss": fixed(job.loss[t], overflow=over)})
        final = t == len(job.loss) - 1
        self.note.set_text(words.diverged % {"iteration": job.diverged_at} if job.status == Status.DIVERGED and final else "")
        self.ax_fit.draw_artist(self.fit_line)
        self.ax_fit.draw_artist(self.note)
        for artist in (self.loss_line, self.loss_dot):
            self.ax_loss.draw_artist(artist)
        self.fig.draw_artist(self.title)
        self.canvas.blit(self.fig.bbox)
        rgba = np.asarray(self.canvas.buffer_rgba())
        h, w_px = rgba.shape[0] & ~1, rgba.shape[1] & ~1  # even size for H.264, by cropping a pixel
        return np.ascontiguousarray(rgba[:h, :w_px, :3])

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (iteration, RGB frame) for every drawn iteration of the current run."""
        assert self.job is not None
        for t in self.job.iterations:
            yield t, self.draw(t)

    def settle_iteration(self) -> int | None:
        """First drawn iteration after which the fit moves less than one pixel between drawn frames."""
        job = self.job
        assert job is not None
        drawn = job.iterations
        if len(drawn) < 2:
            return None
        w = np.clip(job.w[drawn].astype(np.float64), -CLAMP, CLAMP)
        b = np.clip(job.b[drawn].astype(np.float64), -CLAMP, CLAMP)
        # Vertical pixel position of the drawn (clamped) fit at each sample x, frame after frame.
        heights = np.clip(np.outer(w, self.xs) + b[:, None], *self.ylim)
        y0, y1 = self.ax_fit.transData.transform([[0.0, self.ylim[0]], [0.0, self.ylim[1]]])[:, 1]
        pixels = heights * (y1 - y0) / (self.ylim[1] - self.ylim[0])
        moved = np.abs(np.diff(pixels, axis=0)).max(axis=1)  # between drawn frame k and k+1
        still = moved < 1.0
        if not still[-1]:
            return None
        k = len(still)
        while k > 0 and still[k - 1]:
            k -= 1
        return drawn[k]
