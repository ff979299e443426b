"""The course's training loop, one run at a time, as a student runs it.

Written from the course's script: the global RNG, the same draw order, update
then test. It is the reference the batched trainer (:mod:`reportgen.train.batched`)
must match bit for bit, and the per-run baseline of ``benchmarks/bench_train.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.config.schema import Params
from reportgen.train.run import DIVERGENCE_FACTOR, Status, Trajectory

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class CourseWindow:
    """The window the course's script draws in: matplotlib's default figure, fixed axes, a frame every 20 iterations.

    The script never clears its axes: each drawn line stays, the newest on top, so what a student sees
    stops changing once a new line lands within a pixel of the ones before it.
    """

    size: tuple[int, int] = (640, 480)  # pixels: 6.4 x 4.8 inches at 100 dpi, matplotlib's defaults
    axes: tuple[float, float, float, float] = (0.125, 0.11, 0.775, 0.77)  # left, bottom, width, height
    xlim: tuple[float, float] = (1.5, 10.0)
    ylim: tuple[float, float] = (8.0, 28.0)
    every: int = 20
    line_pt: float = 5.0  # the script's plot(..., 'r-', lw=5)
    dpi: int = 100

    @property
    def line_px(self) -> float:
        """How wide the script's red line is on screen: 5 points at 100 dpi, about 7 pixels."""
        return self.line_pt * self.dpi / 72

    def drawn(self, iterations_run: int) -> list[int]:
        """Return the iterations the script draws: every 20th (it draws no frame for a run that ends unstopped)."""
        return list(range(0, iterations_run, self.every))

    def line_pixels(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the drawn fit's height in pixels at the ends of its visible part, one row per (w, b).

        The script plots y_pred at the data's x, so the line spans the points inside the x limits;
        a part outside the y limits is cut off: it is counted at the edge it left by.
        """
        lo, hi = max(float(np.min(x)), self.xlim[0]), min(float(np.max(x)), self.xlim[1])
        ends = np.array([lo, (lo + hi) / 2, hi])
        y = np.outer(np.asarray(w, np.float64), ends) + np.asarray(b, np.float64)[:, None]
        y = np.clip(y, *self.ylim)
        return (y - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * self.axes[3] * self.size[1]


COURSE_WINDOW = CourseWindow()

#: The most lines of a pile the report's recreation of the window draws (figures/answer.py: distinct_lines).
PILE_MOST_LINES = 2_000


@dataclass(frozen=True)
class Title:
    """What the course's window title printed last of a run, as a student copies it: "Iteration: k", and w and b
    after iteration k's update (the script draws after it steps)."""

    iteration: int
    w: float
    b: float


def last_title(t: Trajectory, window: CourseWindow = COURSE_WINDOW) -> Title | None:
    """Return the title the course's window showed last: the stop's, for a run that stopped; for a run that used
    its budget, the last drawn iteration's (980 of 1000), whose w and b are one update past it. None for a run
    reportgen stopped as diverged: the course's loop has no such rule, and would have run on."""
    if t.status == Status.DIVERGED:
        return None
    return title_at(t, t.last if t.status == Status.STOPPED else window.drawn(t.iterations_run)[-1])


def title_at(t: Trajectory, k: int) -> Title:
    """Return the title the window draws at iteration ``k``: w and b after its update, the ones iteration k + 1's
    forward pass used (after the last iteration, the loop's variables)."""
    if k + 1 < t.iterations_run:
        return Title(k, float(t.w[k + 1]), float(t.b[k + 1]))
    return Title(k, t.updated_w, t.updated_b)


@dataclass(frozen=True)
class CourseRun:
    """What the course loop did for one run."""

    stop_iteration: int | None
    diverged_at: int | None
    losses: list[float]
    w: float
    b: float


def initial_parameters(w0: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return w and b as the course creates them, w holding ``w0`` (the course draws it: torch.randn(1))."""
    import torch

    return torch.tensor([w0], requires_grad=True), torch.zeros(1, requires_grad=True)


# The course's code, shown on the page as it stands (inspect.getsource): no annotations on the two below.
def course_forward(x, y, w, b):
    import torch

    wx = torch.mul(w, x)
    y_pred = torch.add(wx, b)
    loss = (0.5 * (y - y_pred) ** 2).mean()
    return wx, y_pred, loss


def course_step(w, b, lr, zero_grad=True):
    b.data.sub_(lr * b.grad)
    w.data.sub_(lr * w.grad)
    if zero_grad:
        w.grad.zero_()
        b.grad.zero_()


def course_loop(p: Params) -> CourseRun:
    """Run the course's training loop for one run's parameters."""
    import torch

    torch.manual_seed(p.seed)
    x = torch.rand(p.n_points, 1) * p.x_max
    y = p.slope * x + (p.intercept + p.noise * torch.randn(p.n_points, 1))
    w = torch.randn(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses: list[float] = []
    for iteration in range(p.max_iters):
        _, _, loss = course_forward(x, y, w, b)
        value = loss.item()
        losses.append(value)
        # The project's divergence rule, checked before the update (which it withholds).
        if not math.isfinite(value) or value > DIVERGENCE_FACTOR * losses[0]:
            return CourseRun(None, iteration, losses, w.item(), b.item())
        loss.backward()
        course_step(w, b, p.lr)
        if value < p.threshold:
            return CourseRun(iteration, None, losses, w.item(), b.item())
    return CourseRun(None, None, losses, w.item(), b.item())


#: The course's code as the page lists it, in reading order.
LISTING = (course_forward, course_step, course_loop)
