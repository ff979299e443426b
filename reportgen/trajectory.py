"""What training produced for one run: its data and its trajectory (no torch needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STOPPED = "stopped"
BUDGET_EXHAUSTED = "budget_exhausted"
DIVERGED = "diverged"


@dataclass(frozen=True)
class RunData:
    """The data one run trains on, drawn exactly as the course draws it."""

    x: np.ndarray  # float32, (n,)
    y: np.ndarray  # float32, (n,)
    w0: float  # the initial w (b starts at 0)


@dataclass(frozen=True)
class Trajectory:
    """What the training loop did for one run."""

    status: str
    stop_iteration: int | None  # 0-based iteration whose loss passed the stop test
    diverged_at: int | None
    loss: np.ndarray  # float32 loss of each iteration executed, before its update
    w: np.ndarray  # w that produced loss[t]
    b: np.ndarray  # b that produced loss[t]
    final_w: float  # w after the last update applied
    final_b: float

    @property
    def iterations_run(self) -> int:
        """Number of loop iterations executed (loss evaluations)."""
        return len(self.loss)

    @property
    def updates(self) -> int:
        """Number of parameter updates applied (a diverged run's last one is withheld)."""
        return self.iterations_run - (self.status == DIVERGED)

    @property
    def final_loss(self) -> float:
        """The loss the last stop test saw."""
        return float(self.loss[-1])
