"""A straightforward per-run implementation of the course loop: the tests' reference.

Written from ``course_script.py``, one run at a time, with the global RNG, as a
student runs it. The batched trainer must agree with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reportgen.config import Params


@dataclass
class CourseRun:
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
        if not math.isfinite(value) or value > 1e6 * losses[0]:
            return CourseRun(None, iteration, losses, w.item(), b.item())
        loss.backward()
        b.data.sub_(p.lr * b.grad)
        w.data.sub_(p.lr * w.grad)
        w.grad.zero_()
        b.grad.zero_()
        if value < p.threshold:
            return CourseRun(iteration, None, losses, w.item(), b.item())
    return CourseRun(None, None, losses, w.item(), b.item())
