"""What training and analysis produce for one run: its data, its trajectory, its closed-form facts (no torch).

These are the types every later stage reads; this module imports none of the stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Sequence

import numpy as np

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Params
from reportgen.core.i18n import N_


class Status(StrEnum):
    """How a run's loop ended."""

    STOPPED = "stopped"  # the stop test passed
    BUDGET_EXHAUSTED = "budget_exhausted"  # max_iters iterations ran
    DIVERGED = "diverged"  # the loss became non-finite or passed DIVERGENCE_FACTOR x its start

    @property
    def label(self) -> str:
        """The status in words (an English msgid: translate it where it is shown)."""
        return _LABELS[self]


_LABELS = {Status.STOPPED: N_("stopped"), Status.BUDGET_EXHAUSTED: N_("budget exhausted"),
           Status.DIVERGED: N_("diverged")}
#: A run whose loss grows beyond this multiple of its initial loss has diverged.
DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True)
class RunData:
    """The data one run trains on, drawn exactly as the course draws it."""

    x: np.ndarray  # float32, (n,)
    y: np.ndarray  # float32, (n,)
    w0: float  # the initial w (b starts at 0)


@dataclass(frozen=True)
class Trajectory:
    """What the training loop did for one run."""

    status: Status
    stop_iteration: int | None  # 0-based iteration whose loss passed the stop test
    diverged_at: int | None
    loss: np.ndarray  # float32 loss of each iteration executed, before its update
    w: np.ndarray  # w that produced loss[t]
    b: np.ndarray  # b that produced loss[t]
    updated_w: float  # w after the last update applied: what the course's variable holds when the loop ends
    updated_b: float
    # A minibatch run's loss over all its points, per iteration (``loss`` is its batch's); empty for a full batch.
    full_loss: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))

    @property
    def loss_of_all_points(self) -> np.ndarray:
        """The loss over every point at each iteration: ``loss`` itself unless the run took minibatches."""
        return self.full_loss if len(self.full_loss) else self.loss

    @property
    def iterations_run(self) -> int:
        """Number of loop iterations executed (loss evaluations)."""
        return len(self.loss)

    @property
    def updates(self) -> int:
        """Number of parameter updates applied (a diverged run's last one is withheld)."""
        return self.iterations_run - (self.status == Status.DIVERGED)

    @property
    def initial_loss(self) -> float:
        """The loss at the start, (w0, 0)."""
        return float(self.loss[0])

    @property
    def last(self) -> int:
        """The last iteration run: its state is the run's final state."""
        return len(self.loss) - 1

    @property
    def final_w(self) -> float:
        """w of the final state: the one the last forward pass used."""
        return float(self.w[-1])

    @property
    def final_b(self) -> float:
        """b of the final state."""
        return float(self.b[-1])

    @property
    def final_loss(self) -> float:
        """The loss of the final state, L(final_w, final_b): the one the last stop test saw."""
        return float(self.loss[-1])


@dataclass(frozen=True)
class Analysis:
    """Closed-form facts about one run's quadratic loss."""

    w_star: float
    b_star: float
    loss_floor: float
    hessian: tuple[tuple[float, float], tuple[float, float]]
    hessian_eigenvalues: tuple[float, float]  # ascending
    eigenvectors: tuple[tuple[float, float], tuple[float, float]]  # columns, in the order of the eigenvalues
    condition_number: float
    lr_max: float
    factors: tuple[float, float]  # 1 - lr*lambda_i: what one step multiplies the error along eigenvector i by
    initial_excess: tuple[float, float]  # 0.5*lambda_i*a_i^2: loss above the floor in each mode at t=0
    predicted_stop_iteration: int | None

    def loss_at(self, t: int | np.ndarray) -> np.ndarray:
        """Return the loss the closed form predicts at iteration ``t``."""
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(over="ignore"):  # an unstable run's loss grows past every float: inf
            excess = sum(e * np.power(f, 2 * t) for e, f in zip(self.initial_excess, self.factors))
        return self.loss_floor + excess


@dataclass(frozen=True)
class RunResult:
    """Everything training and analysis know about one run."""

    spec: RunSpec
    data: RunData
    trajectory: Trajectory
    analysis: Analysis

    @property
    def id(self) -> str:
        return self.spec.id


def course_result(results: Sequence[RunResult], course: Params) -> RunResult | None:
    """The course's own run: the one trained with the config's ``[defaults]`` values, else the first (None: no run)."""
    values = course.to_dict()
    return next((r for r in results if r.spec.params.to_dict() == values), results[0] if results else None)
