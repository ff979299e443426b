"""Draw a run's animation frames off-screen, fast: one figure, static parts drawn once.

A frame has three views of one state, iteration t with the (w_t, b_t) its forward
pass used: the data with the true line and the fit y = w_t x + b_t; the loss
surface L(w, b) with its contours, the least-squares minimum, the true point,
the slow and fast eigen-directions of H and the path so far; and the loss curve.

Speed comes from blitting on the Agg canvas. The static parts are drawn once per
run and kept as a background. The growing paths (the loss curve and the path on
the surface) are drawn onto a second, "trail" background one new segment at a
time, so a frame costs the same at iteration 5 and at iteration 5,000. Only the
fit, the markers of the current state and the heading are drawn on top.
"""

from __future__ import annotations

from typing import Iterator

import matplotlib

matplotlib.use("Agg", force=True)  # headless, before anything imports pyplot

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from reportgen.core import palette  # noqa: E402
from reportgen.core.fonts import families  # noqa: E402
from reportgen.core.formatting import fixed, num, param  # noqa: E402
from reportgen.core.sampling import evenly_spaced  # noqa: E402
from reportgen.media.layouts import WIDE_FRAME, FrameLayout  # noqa: E402
from reportgen.media.plan import SURFACE_GRID, FrameJob, FramePlan, plan  # noqa: E402
from reportgen.train.run import Status  # noqa: E402

#: Where an eigen-direction's label may sit: these fractions of the way from the minimum to the view's edge, on
#: either side; and the most points of the path it keeps clear of.
LABEL_FRACTIONS = (0.35, 0.5, 0.62, 0.75)
LABEL_AVOID_POINTS = 2000
#: The floor's label goes above its line when the line is this low in the loss panel (a fraction of its height).
FLOOR_LABEL_ROOM = 0.15
#: The white box under a label on the loss surface, so that it reads across contours and the panel's frame.
LABEL_BOX = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}


class FrameRenderer:
    """One reusable figure, in one layout (wide or phone), that draws the frames of one run after another."""

    def __init__(self, dpi: int = 100, cjk: bool = False, layout: FrameLayout = WIDE_FRAME) -> None:
        self.dpi = dpi
        self.layout = layout
        sans, _ = families(cjk)
        # Every text takes its font list and size when it is made: DejaVu first, then the CJK font when asked for.
        pt = layout.font_pt
        self.rc = {"font.family": list(sans), "font.size": pt, "axes.labelsize": pt, "xtick.labelsize": pt,
                   "ytick.labelsize": pt}
        with matplotlib.rc_context(self.rc):
            self._build(dpi, cjk)
        self.job: FrameJob | None = None
        self.plan: FramePlan | None = None
        self._per_run: list = []

    def _build(self, dpi: int, cjk: bool) -> None:
        """Make the figure and every artist that lives across runs, once."""
        layout = self.layout
        self.fig = Figure(figsize=layout.inches(dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax_fit = ax = self.fig.add_axes(layout.fit.rect)
        self.ax_surface = sx = self.fig.add_axes(layout.surface.rect)
        self.ax_loss = lx = self.fig.add_axes(layout.loss.rect)
        for axes in (ax, sx, lx):
            axes.xaxis.set_major_locator(MaxNLocator(4))
            axes.yaxis.set_major_locator(MaxNLocator(4))
        self.points = ax.scatter([], [], s=30, color=palette.POINTS, zorder=3)
        (self.true_line,) = ax.plot([], [], "--", color=palette.TRUE, lw=2)
        (self.fit_line,) = ax.plot([], [], "-", color=palette.FIT, lw=3.5, animated=True)
        ax.set_xlabel("x", labelpad=2)
        ax.set_ylabel("y", labelpad=2)
        # The key sits bottom right, where data that rises from left to right leaves room.
        self.key_true = ax.text(0.97, 0.03, "", transform=ax.transAxes, ha="right", va="bottom", color=palette.TRUE)
        self.key_fit = ax.text(0.97, 0.14, "", transform=ax.transAxes, ha="right", va="bottom", color=palette.FIT)
        # The CJK font has one weight: ask for bold only where every glyph has it.
        weight = "normal" if cjk else "bold"
        self.off_note = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", color=palette.FIT,
                                fontweight=weight, animated=True, linespacing=1.2,
                                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": palette.FIT, "alpha": 0.9})

        sx.set_xlabel("w", labelpad=2)
        sx.set_ylabel("b", labelpad=2)
        (self.path_line,) = sx.plot([], [], "-", color=palette.PATH, lw=1.6, animated=True)
        (self.path_dot,) = sx.plot([], [], "o", color=palette.PATH, ms=8, animated=True)
        self.left_note = sx.text(0.5, 0.06, "", transform=sx.transAxes, ha="center", va="bottom", color=palette.PATH,
                                 animated=True, linespacing=1.2,
                                 bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": palette.PATH, "alpha": 0.9})

        lx.set_yscale("log")
        lx.set_xlabel("iteration", labelpad=1)
        lx.set_ylabel("loss", labelpad=2)
        self.threshold_line = lx.axhline(1.0, ls="--", color=palette.THRESHOLD, lw=1.8)
        self.floor_line = lx.axhline(1.0, ls=":", color=palette.FLOOR, lw=2.2)
        self.threshold_text = lx.text(0.99, 1.0, "", transform=lx.get_yaxis_transform(), ha="right", va="bottom",
                                      color=palette.THRESHOLD)
        # Below its line, where no full-batch loss ever is (setup moves it above where the line runs along the foot).
        self.floor_text = lx.text(0.01, 1.0, "", transform=lx.get_yaxis_transform(), ha="left", va="top",
                                  color=palette.FLOOR)
        (self.loss_line,) = lx.plot([], [], "-", color=palette.LOSS, lw=2, animated=True)
        (self.loss_dot,) = lx.plot([], [], "o", color=palette.LOSS, ms=7, animated=True)
        self.end_note = lx.text(0.5, 0.5, "", transform=lx.transAxes, ha="center", va="center", color=palette.FIT,
                                fontweight=weight, animated=True,
                                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})

        self.title = self.fig.text(0.5, 0.975, "", ha="center", va="top", wrap=layout.title_wrap)
        # The state changes every frame: stamped by Pillow in the monospace face (see StateLine), not laid out
        # by matplotlib, which spends more on one line of text than on everything else in the frame.
        self.state_lines = [(line, StateLine(layout.font_pt * dpi / 72, y=round((1 - y) * layout.pixels(dpi)[1])))
                            for line, y in layout.state]

    # ----------------------------------------------------------------- per run

    def setup(self, job: FrameJob, frame_plan: FramePlan | None = None) -> FramePlan:
        """Draw the static parts of ``job`` once and keep them as the background; return its plan."""
        with matplotlib.rc_context(self.rc):
            return self._setup(job, frame_plan)

    def _setup(self, job: FrameJob, frame_plan: FramePlan | None) -> FramePlan:
        self.job = job
        self.plan = p = frame_plan or plan(job)
        for artist in self._per_run:  # the previous run's contours, markers and labels
            artist.remove()
        self._per_run = []
        words = job.labels
        ax, lx = self.ax_fit, self.ax_loss

        ax.set_xlim(*p.view.x_range)
        ax.set_ylim(*p.view.y_range)
        self.points.set_offsets(np.column_stack([job.x, job.y]))
        self.xs = np.array(p.view.x_range)
        self.true_line.set_data(self.xs, job.slope * self.xs + job.intercept)
        self.key_fit.set_text(f"— {words.fit}")
        self.key_true.set_text(f"- - {words.true_line} y = {param(job.slope)}x + {param(job.intercept)}")

        self._draw_surface(job, p)

        n = len(job.loss)
        lx.set_xlim(-0.5, max(n - 0.5, 1))
        lx.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # iterations are whole: no tick at 0.4
        lx.set_ylim(*p.loss_range)
        # A log axis cannot show 0: such a line and its label are left out.
        for line, text, value, label in (
            (self.threshold_line, self.threshold_text, job.threshold, words.threshold % {"threshold": param(job.threshold)}),
            (self.floor_line, self.floor_text, job.loss_floor, words.floor % {"floor": num(job.loss_floor)}),
        ):
            line.set_ydata([value] * 2)
            line.set_visible(value > 0)
            text.set_position((text.get_position()[0], value))
            text.set_text(label if value > 0 else "")
        # The floor's label goes under its line, where no loss ever is, unless the line runs along the panel's
        # foot: there it would sit on the iteration ticks, so it goes above, at the left, where the curve is high.
        low, high = np.log10(p.loss_range)
        near_foot = job.loss_floor > 0 and (np.log10(job.loss_floor) - low) / (high - low) < FLOOR_LABEL_ROOM
        self.floor_text.set_verticalalignment("bottom" if near_foot else "top")
        lx.set_xlabel(words.iteration, labelpad=1)
        lx.set_ylabel(words.loss, labelpad=2)

        self.title.set_text(job.title)
        self.loss_x = np.arange(n)
        self.loss_y = np.where(np.isfinite(job.loss) & (job.loss > 0), job.loss, np.nan)
        self.path_w = np.where(np.isfinite(job.w), job.w, np.nan)
        self.path_b = np.where(np.isfinite(job.b), job.b, np.nan)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.trail = self.background
        self.trail_end = -1  # the last iteration drawn into the trail
        return p

    def _draw_surface(self, job: FrameJob, p: FramePlan) -> None:
        """Draw the loss surface's static parts: contours, threshold contour, minimum, true point, eigen-directions."""
        sx, words = self.ax_surface, job.labels
        sx.set_xlim(*p.w_range)
        sx.set_ylim(*p.b_range)
        gw, gb = np.meshgrid(np.linspace(*p.w_range, SURFACE_GRID), np.linspace(*p.b_range, SURFACE_GRID))
        surface = job.loss_at(gw, gb)
        if p.contour_levels:
            self._per_run.append(sx.contour(gw, gb, surface, levels=list(p.contour_levels), colors=palette.CONTOUR,
                                            linewidths=1.0))
        in_view = job.threshold > job.loss_floor and float(np.nanmin(surface)) < job.threshold < float(np.nanmax(surface))
        if in_view:
            stop = sx.contour(gw, gb, surface, levels=[job.threshold], colors=palette.THRESHOLD, linewidths=2.0,
                              linestyles="--")
            self._per_run.append(stop)
        # The view's title names the stop contour: a label inline on it was squeezed into a sliver where the valley
        # is narrow (slope 5). Every (w, b) has a loss above a threshold below the floor: then there is no contour.
        if in_view:
            title = words.stop_contour % {"threshold": param(job.threshold)}
        elif job.threshold <= job.loss_floor:
            title = words.no_stop_contour % {"threshold": param(job.threshold), "floor": num(job.loss_floor)}
        else:  # a contour outside the view: nothing to name
            title = ""
        sx.set_title(title, color=palette.THRESHOLD, pad=6, fontsize=self.layout.note_pt)
        (vs_w, vf_w), (vs_b, vf_b) = job.eigenvectors
        span = 4 * max(p.w_range[1] - p.w_range[0], p.b_range[1] - p.b_range[0])
        path = np.asarray([job.w, job.b], float)[:, evenly_spaced(len(job.w), LABEL_AVOID_POINTS)]
        avoid = np.hstack([path, [[job.w_star, job.slope], [job.b_star, job.intercept]]])
        for (vw, vb), label in (((vs_w, vs_b), words.slow), ((vf_w, vf_b), words.fast)):
            line, = sx.plot([job.w_star - span * vw, job.w_star + span * vw],
                            [job.b_star - span * vb, job.b_star + span * vb], "-", color=palette.EIGEN, lw=1.3, alpha=0.8)
            self._per_run.append(line)
            at = _clear_along(job.w_star, job.b_star, vw, vb, p, avoid)
            if at is not None:
                self._per_run.append(sx.text(*at, label, color=palette.EIGEN, ha="center", va="center", bbox=LABEL_BOX))
        star, = sx.plot([job.w_star], [job.b_star], "*", color="black", ms=17, zorder=4)
        cross, = sx.plot([job.slope], [job.intercept], "X", color=palette.TRUE, ms=11, zorder=4)
        self._per_run += [star, cross]
        # The true point and the minimum are often close: the upper one is labelled beside it, the other below it,
        # so the two labels never meet, and neither rises out of the view into its title.
        true_above = job.intercept >= job.b_star
        for label, point, upper, color in ((words.minimum, (job.w_star, job.b_star), not true_above, None),
                                           (words.true_point, (job.slope, job.intercept), true_above, palette.TRUE)):
            self._per_run.append(sx.annotate(label, point, xytext=(11, 0) if upper else (9, -9), color=color,
                                             textcoords="offset points", va="center" if upper else "top", ha="left",
                                             bbox=LABEL_BOX, zorder=5))

    # ----------------------------------------------------------------- per frame

    def draw(self, t: int) -> np.ndarray:
        """Draw iteration ``t`` onto the background; return the frame as RGBA (H, W, 4)."""
        job, p = self.job, self.plan
        assert job is not None and p is not None, "setup() first"
        if not self._extend_trail(t):  # when it drew, the canvas already holds the trail
            self.canvas.restore_region(self.trail)
        words = job.labels
        w, b = float(job.w[t]), float(job.b[t])
        over = words.overflow

        # The fit as it is: y = w x + b from edge to edge, cut off by the panel, never clamped.
        self.fit_line.set_data(self.xs, w * self.xs + b)
        left_end, right_end = (w * x + b for x in p.view.x_range)
        lo, hi = p.view.y_range
        note = ""
        if min(left_end, right_end) > hi or (w > 0 and right_end != right_end):  # NaN: beyond every float
            note = words.fit_above
        elif max(left_end, right_end) < lo:
            note = words.fit_below
        self.off_note.set_text(note % {"w": num(w), "b": num(b)} if note else "")
        self.off_note.set_y(0.8 if note == words.fit_above else 0.42)

        # The current state on the surface and on the loss curve.
        inside = p.left_view_at is None or t < p.left_view_at
        self.path_dot.set_data([w] if inside else [], [b] if inside else [])
        self.left_note.set_text("" if inside else words.left_view % {"t": p.left_view_at})
        self.loss_dot.set_data(self.loss_x[t : t + 1], self.loss_y[t : t + 1])

        final = t == len(job.loss) - 1
        end = ""
        if final and job.status == Status.DIVERGED:
            end = words.diverged % {"t": job.diverged_at}
        elif final and job.status == Status.STOPPED:
            end = words.stopped % {"loss": num(job.loss[t]), "threshold": param(job.threshold)}
        elif final and job.status == Status.BUDGET_EXHAUSTED:
            end = words.budget % {"budget": len(job.loss)}
        self.end_note.set_text(self._fitted(self.end_note, end, self.ax_loss.bbox.width))
        # A run that used its budget ends near its floor, low on the right: its note goes high, clear of the curve.
        high = 0.78 if "\n" not in self.end_note.get_text() else 0.7  # two lines: its box stays inside the panel
        self.end_note.set_position((0.5, high if job.status == Status.BUDGET_EXHAUSTED else 0.5))
        for note in (self.off_note, self.left_note, self.end_note):  # an empty text would still draw its box
            note.set_visible(bool(note.get_text()))
        for axes, artists in ((self.ax_fit, (self.fit_line, self.off_note)),
                              (self.ax_surface, (self.path_dot, self.left_note)),
                              (self.ax_loss, (self.loss_dot, self.end_note))):
            for artist in artists:
                if artist.get_visible():
                    axes.draw_artist(artist)
        frame = np.array(self.canvas.buffer_rgba())  # a plain copy: no conversion, RGBA goes to ffmpeg as is
        state = {"t": t, "w": fixed(w, overflow=over), "b": fixed(b, overflow=over),
                 "loss": fixed(job.loss[t], overflow=over)}
        for line, stamp in self.state_lines:
            stamp(frame, line % state)
        return frame

    def _fitted(self, note, text: str, width_px: float) -> str:
        """Return ``text``, or the same in two lines where one would be wider than its panel (the phone's loss panel
        is narrower than "budget of 1000 iterations used up: no stop"): broken at the space nearest its middle, or
        at its middle character in a text without spaces (Chinese)."""
        note.set_text(text)
        note.set_visible(True)  # a hidden text measures as a unit box
        if not text or note.get_window_extent(self.canvas.get_renderer()).width <= 0.96 * width_px:
            return text
        spaces = [i for i, c in enumerate(text) if c == " "]
        at = min(spaces, key=lambda i: abs(i - len(text) / 2)) if spaces else len(text) // 2
        return text[:at] + "\n" + text[at + bool(spaces):]

    def smallest_text_px(self) -> float:
        """Return the height in pixels of the smallest text the last frame drawn shows (heading, ticks, labels,
        notes and the state lines, which shrink in a frame too narrow for them)."""
        from matplotlib.text import Text

        sizes = [t.get_fontsize() * self.dpi / 72 for t in self.fig.findobj(Text) if t.get_visible() and t.get_text()]
        return min(sizes + [stamp.smallest_px for _, stamp in self.state_lines])

    def _extend_trail(self, t: int) -> bool:
        """Bring the trail (loss curve and surface path) up to iteration ``t``, drawing only what is new.

        Return True when it drew (the canvas then holds the trail).
        """
        if t < self.trail_end:  # going back (a filmstrip, a poster): draw the whole path again
            self.trail, self.trail_end = self.background, -1
        if t == self.trail_end:
            return False
        start = max(self.trail_end, 0)  # overlap one point, so the new segment joins the old
        self.canvas.restore_region(self.trail)
        self.loss_line.set_data(self.loss_x[start : t + 1], self.loss_y[start : t + 1])
        self.ax_loss.draw_artist(self.loss_line)
        stop = t + 1 if self.plan.left_view_at is None else min(t + 1, self.plan.left_view_at + 1)
        if stop - start >= 1:
            self.path_line.set_data(self.path_w[start:stop], self.path_b[start:stop])
            self.ax_surface.draw_artist(self.path_line)
        self.trail = self.canvas.copy_from_bbox(self.fig.bbox)
        self.trail_end = t
        return True

    def frames(self, iterations: tuple[int, ...] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (iteration, RGB frame) for the plan's iterations (or the ones given), in order."""
        assert self.plan is not None
        for t in iterations if iterations is not None else self.plan.iterations:
            yield t, self.draw(t)


class StateLine:
    """Write one centred line of monospace text into RGBA frames, fast: DejaVu Sans Mono glyphs from Pillow, cached.

    The line holds numbers and symbols only, so the one face draws every language's frame. Each glyph is
    rendered once into a cell of the face's advance; a line is its cells side by side, blended into the frame.
    """

    def __init__(self, size_px: float, y: int, color: tuple[int, int, int] = (0x1d, 0x23, 0x27)) -> None:
        from matplotlib import font_manager
        from PIL import ImageFont

        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans Mono"), fallback_to_default=False)
        self.font = ImageFont.truetype(path, round(size_px))
        ascent, descent = self.font.getmetrics()
        self.cell = (round(self.font.getlength("0")), ascent + descent)
        self.y = y
        self.color = np.array(color, np.uint32)
        self.glyphs: dict[str, np.ndarray] = {}
        self.smaller: dict[int, StateLine] = {}  # the same line in smaller faces, by size
        self.smallest_px = float(self.font.size)  # the smallest face a line was stamped in

    def glyph(self, char: str) -> np.ndarray:
        """Return the coverage (0..255) of one character in its cell."""
        found = self.glyphs.get(char)
        if found is None:
            from PIL import Image, ImageDraw

            image = Image.new("L", self.cell, 0)
            ImageDraw.Draw(image).text((0, 0), char, font=self.font, fill=255)
            found = self.glyphs[char] = np.asarray(image, np.uint32)
        return found

    def __call__(self, frame: np.ndarray, text: str) -> None:
        alpha = np.concatenate([self.glyph(c) for c in text], axis=1)[..., None]
        if alpha.shape[1] > frame.shape[1]:  # a small frame and long numbers: the line in a face that fits
            size = max(1, int(self.font.size * frame.shape[1] / alpha.shape[1]))
            if size not in self.smaller:
                self.smaller[size] = StateLine(size, self.y, tuple(int(c) for c in self.color))
            self.smaller[size](frame, text)
            self.smallest_px = min(self.smallest_px, size)
            return
        height, width = alpha.shape[:2]
        left = (frame.shape[1] - width) // 2
        region = frame[self.y : self.y + height, left : left + width, :3]
        region[:] = (region * (255 - alpha) + self.color * alpha) // 255


def _clear_along(w0: float, b0: float, vw: float, vb: float, p: FramePlan, avoid: np.ndarray):
    """Return a point on the line through (w0, b0) along (vw, vb), inside the view, as far as it can be from the
    points of ``avoid`` (2, n): the path, which runs along the slow direction into the minimum and drew over a
    label set at a fixed place there, and the marked points. None when the line leaves the view at once.
    """
    if not (p.w_range[0] <= w0 <= p.w_range[1] and p.b_range[0] <= b0 <= p.b_range[1]):
        return None
    # Measure in fractions of the view, so a long w range and a short b range weigh alike.
    sw, sb = p.w_range[1] - p.w_range[0], p.b_range[1] - p.b_range[0]
    spots = []
    for sign in (1, -1):
        exits = []
        for v, lo, hi, origin in ((sign * vw, *p.w_range, w0), (sign * vb, *p.b_range, b0)):
            if abs(v) > 1e-12:
                exits += [s for s in ((lo - origin) / v, (hi - origin) / v) if s > 0]
        if exits:
            spots += [sign * min(exits) * f for f in LABEL_FRACTIONS]
    if not spots:
        return None
    at = np.array([[w0 + d * vw for d in spots], [b0 + d * vb for d in spots]])
    scale = np.array([[sw], [sb]])
    finite = avoid[:, np.isfinite(avoid).all(axis=0)] / scale
    gaps = np.hypot(*(at / scale)[:, :, None] - finite[:, None, :]).min(axis=1) if finite.size else np.ones(len(spots))
    best = int(np.argmax(gaps))
    return float(at[0, best]), float(at[1, best])
