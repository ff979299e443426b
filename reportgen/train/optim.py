"""The update rules, batched: every run takes its own optimiser's step, all runs in one tensor program.

Each rule is written out as ``torch.optim`` computes it for one parameter (tests/test_optim.py checks each
against ``torch.optim.SGD`` and ``torch.optim.Adam`` over 100 steps), so runs with different optimisers train
side by side in the same rows:

    gd         p -= lr * g                                     (the course's loop)
    momentum   v = beta * v + g;          p -= lr * v          (SGD(momentum=beta), the heavy ball)
    nesterov   v = beta * v + g;          p -= lr * (g + beta * v)
    adam       m = m + (1 - beta1) * (g - m);  s = beta2 * s + (1 - beta2) * g * g
               p -= lr / (1 - beta1^t) * m / (sqrt(s) / sqrt(1 - beta2^t) + eps)

A run's state (v, or m and s) is one entry per parameter; rows of a gd run never touch it, and rows whose step
is withheld (a diverged run) keep theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from reportgen.config.grid import RunSpec
from reportgen.config.schema import OPTIMIZERS

if TYPE_CHECKING:
    import torch

GD, MOMENTUM, NESTEROV, ADAM = (OPTIMIZERS.index(name) for name in ("gd", "momentum", "nesterov", "adam"))


class Updates:
    """The optimiser of every active run: its kind, its coefficients and its state, one row per run."""

    def __init__(self, specs: Sequence[RunSpec], n_params: int, device: str) -> None:
        import torch

        def per_run(values: list, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype, device=device)

        params = [s.params for s in specs]
        self.kind = per_run([OPTIMIZERS.index(p.optimizer) for p in params], torch.int64)
        self.lr = per_run([p.lr for p in params], torch.float32)
        self.any_momentum = any(p.optimizer in ("momentum", "nesterov") for p in params)
        self.any_adam = any(p.optimizer == "adam" for p in params)
        n = len(params)
        zeros = lambda: torch.zeros((n, n_params), dtype=torch.float32, device=device)  # noqa: E731
        if self.any_momentum:
            self.beta = per_run([p.momentum for p in params], torch.float32)
            self.velocity = zeros()
            self.nesterov = self.kind == NESTEROV
        if self.any_adam:
            # Adam's coefficients in float64, as torch.optim keeps them (Python floats) until each step.
            self.beta1 = per_run([p.beta1 for p in params], torch.float64)
            self.beta2 = per_run([p.beta2 for p in params], torch.float64)
            self.eps = per_run([p.eps for p in params], torch.float32)
            self.lr64 = per_run([p.lr for p in params], torch.float64)
            self.mean = zeros()
            self.square = zeros()

    def keep(self, rows: torch.Tensor) -> None:
        """Drop the runs that finished: keep only ``rows`` (a boolean mask over the active runs)."""
        for name in ("kind", "lr", "beta", "velocity", "nesterov", "beta1", "beta2", "eps", "lr64", "mean",
                     "square"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name)[rows])

    def step(self, theta: torch.Tensor, grad: torch.Tensor, t: int, take: torch.Tensor) -> torch.Tensor:
        """Return the parameters after step ``t`` (0-based), given (runs, params) values and gradients.

        ``take``: the runs that step; the others keep their parameters and their state.
        """
        import torch

        lr = self.lr[:, None]
        new = theta - lr * grad  # the course's update (gd)
        if self.any_momentum:
            beta = self.beta[:, None]
            velocity = beta * self.velocity + grad
            direction = torch.where(self.nesterov[:, None], grad + beta * velocity, velocity)
            uses = ((self.kind == MOMENTUM) | (self.kind == NESTEROV)) & take
            self.velocity = torch.where(uses[:, None], velocity, self.velocity)
            new = torch.where(uses[:, None], theta - lr * direction, new)
        if self.any_adam:
            count = t + 1
            b1, b2 = self.beta1[:, None], self.beta2[:, None]
            # Each coefficient is rounded to float32 where torch.optim.Adam rounds it: after computing it in float64.
            mean = self.mean + (1 - b1).float() * (grad - self.mean)
            square = b2.float() * self.square + (1 - b2).float() * grad * grad
            step_size = (self.lr64[:, None] / (1 - b1 ** count)).float()
            root = torch.sqrt(1 - b2 ** count).float()
            adam = theta - step_size * (mean / (torch.sqrt(square) / root + self.eps[:, None]))
            uses = (self.kind == ADAM) & take
            self.mean = torch.where(uses[:, None], mean, self.mean)
            self.square = torch.where(uses[:, None], square, self.square)
            new = torch.where(uses[:, None], adam, new)
        return torch.where(take[:, None], new, theta)
