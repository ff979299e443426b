"""The course's training loop, one run at a time, as a student runs it.

Written from the course's script: the global RNG, the same draw order, update
then test. It is the reference the batched trainer (:mod:`reportgen.train`)
must match bit for bit, and the per-run baseline of ``benchmarks/bench_train.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import Params
from .trajectory import DIVERGENCE_FACTOR


@dataclass(frozen=True)
class CourseRun:
    """What the course loop did for one run."""

    stop_iteration: int | None
    diverged_at: int | None
    losses: list[float]
    w: float
    b: float


def course_loop(p: Params) -> CourseRun:
    """Run the course's training loop for one run's parameters."""
    torch.manual_seed(p.seed)
    x = torch.rand(p.n_points, 1) * p.x_max
    y = p.slope * x + (p.intercept + p.noise * torch.randn(p.n_points, 1))
    w = torch.randn(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses: list[float] = []
    for iteration in range(p.max_iters):
        wx = torch.mul(w, x)
        y_pred = torch.add(wx, b)
        loss = (0.5 * (y - y_pred) ** 2).mean()
        value = loss.item()
        losses.append(value)
        # The project's divergence rule, checked before the update (which it withholds).
        if not math.isfinite(value) or value > DIVERGENCE_FACTOR * losses[0]:
            return CourseRun(None, iteration, losses, w.item(), b.item())
        loss.backward()
        b.data.sub_(p.lr * b.grad)
        w.data.sub_(p.lr * w.grad)
        w.grad.zero_()
        b.grad.zero_()
        if value < p.threshold:
            return CourseRun(iteration, None, losses, w.item(), b.item())
    return CourseRun(None, None, losses, w.item(), b.item())
