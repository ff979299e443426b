"""The update rules, batched: every run takes its own optimiser's step, all runs in one tensor program.

Each rule is written out as ``torch.optim`` computes it for one parameter (tests/test_optim.py checks each
against ``torch.optim.SGD`` and ``torch.optim.Adam`` over 100 steps), so runs with different optimisers train
side by side in the same tensors:

    gd         p -= lr * g                                     (the course's loop)
    momentum   v = beta * v + g;          p -= lr * v          (SGD(momentum=beta), the heavy ball)
    nesterov   v = beta * v + g;          p -= lr * (g + beta * v)
    adam       m = m + (1 - beta1) * (g - m);  s = beta2 * s + (1 - beta2) * g * g
               p -= lr / (1 - beta1^t) * m / (sqrt(s) / sqrt(1 - beta2^t) + eps)

A run's state (v, or m and s) is one entry per parameter, kept for every run: a run of another rule never reads
it, and a run whose step is withheld has diverged: it is done, and nothing it computes afterwards is read.
Values are laid out (params, runs), a row per parameter, so that a per-run coefficient broadcasts along the
contiguous runs: laid out (runs, params), each operation ran an inner loop of two and took 15-90 us, not 3-30.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from reportgen.config.grid import RunSpec
from reportgen.config.schema import OPTIMIZERS

if TYPE_CHECKING:
    import torch

GD, MOMENTUM, NESTEROV, ADAM = (OPTIMIZERS.index(name) for name in ("gd", "momentum", "nesterov", "adam"))


class Updates:
    """The optimiser of every active run: its kind, its coefficients and its state, one column per run.

    gd, momentum and Nesterov share one path: a gd run is a heavy ball with β = 0, whose velocity 0·v + g is g
    exactly, so its step is the course's bit for bit. Adam runs take their own path, chosen run by run.
    """

    def __init__(self, specs: Sequence[RunSpec], n_params: int, device: str) -> None:
        import torch

        def per_run(values: list, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype, device=device)  # (runs,): broadcast over each parameter's row

        params = [s.params for s in specs]
        self.lr = per_run([p.lr for p in params], torch.float32)
        self.any_momentum = any(p.optimizer in ("momentum", "nesterov") for p in params)
        self.any_nesterov = any(p.optimizer == "nesterov" for p in params)
        self.any_adam = any(p.optimizer == "adam" for p in params)
        n = len(params)
        zeros = lambda: torch.zeros((n_params, n), dtype=torch.float32, device=device)  # noqa: E731
        self.fields: list[str] = ["lr"]  # what keep() cuts
        if self.any_momentum:
            self.beta = per_run([p.momentum if p.optimizer in ("momentum", "nesterov") else 0.0 for p in params],
                                torch.float32)
            self.velocity = zeros()
            self.nesterov = per_run([p.optimizer == "nesterov" for p in params], torch.bool)
            self.fields += ["beta", "velocity", "nesterov"]
        if self.any_adam:
            # Each coefficient is rounded to float32 where torch.optim.Adam rounds it: after computing it in float64
            # (a Python float there); the bias corrections stay in float64 until the step.
            beta1 = per_run([p.beta1 for p in params], torch.float64)
            beta2 = per_run([p.beta2 for p in params], torch.float64)
            self.beta1, self.beta2 = beta1, beta2
            self.keep1, self.keep2 = (1 - beta1).float(), beta2.float()
            self.take2 = (1 - beta2).float()
            self.lr64 = per_run([p.lr for p in params], torch.float64)
            self.eps = per_run([p.eps for p in params], torch.float32)
            self.adam = per_run([p.optimizer == "adam" for p in params], torch.bool)
            self.mean = zeros()
            self.square = zeros()
            # Runs whose betas are all the same (the usual case) share their bias corrections: two Python floats.
            adams = [p for p in params if p.optimizer == "adam"]
            same = len({(p.beta1, p.beta2) for p in adams}) == 1
            self.shared = (adams[0].beta1, adams[0].beta2) if same else None
            self.fields += ["beta1", "beta2", "keep1", "keep2", "take2", "lr64", "eps", "adam", "mean", "square"]

    def keep(self, runs: torch.Tensor) -> None:
        """Drop the runs that finished: keep only ``runs`` (a boolean mask over the active ones)."""
        for name in self.fields:
            setattr(self, name, getattr(self, name)[..., runs])

    def step_pair(self, w: torch.Tensor, b: torch.Tensor, grad_w: torch.Tensor, grad_b: torch.Tensor, t: int,
                  take: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (w, b) after step ``t``: the course's two updates when every run is plain gd, else :meth:`step`."""
        import torch

        if not (self.any_momentum or self.any_adam):  # as the course: b -= lr * b.grad; w -= lr * w.grad
            lr = self.lr
            if take is None:
                return w - lr * grad_w, b - lr * grad_b
            return w - torch.where(take, lr * grad_w, 0.0), b - torch.where(take, lr * grad_b, 0.0)
        theta = self.step(torch.stack((w, b)), torch.stack((grad_w, grad_b)), t, take)
        return theta[0], theta[1]

    def step(self, theta: torch.Tensor, grad: torch.Tensor, t: int, take: torch.Tensor | None) -> torch.Tensor:
        """Return the parameters after step ``t`` (0-based), given (params, runs) values and gradients, for a grid
        with some momentum or Adam run (:meth:`step_pair` takes an all-gd grid's steps itself).

        ``take``: the runs that step (None: every run); the others keep their parameters.
        """
        import torch

        every = take is None or bool(take.all())  # no run's step is withheld now
        if self.any_momentum:
            velocity = self.beta * self.velocity + grad  # g itself for a gd run (β = 0)
            direction = torch.where(self.nesterov, grad + self.beta * velocity, velocity) if self.any_nesterov \
                else velocity
            self.velocity = velocity
            new = theta - self.lr * direction
        else:
            new = theta - self.lr * grad
        if self.any_adam:
            count = t + 1
            mean = self.mean + self.keep1 * (grad - self.mean)
            square = self.keep2 * self.square + self.take2 * grad * grad
            if self.shared is not None:
                beta1, beta2 = self.shared
                step_size = (self.lr64 / (1 - beta1 ** count)).float()
                root: float | torch.Tensor = math.sqrt(1 - beta2 ** count)
            else:
                step_size = (self.lr64 / (1 - self.beta1 ** count)).float()
                root = torch.sqrt(1 - self.beta2 ** count).float()
            adam = theta - step_size * (mean / (torch.sqrt(square) / root + self.eps))
            self.mean, self.square = mean, square
            new = torch.where(self.adam, adam, new)
        return new if every else torch.where(take, new, theta)
