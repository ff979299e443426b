"""Regimes: what a run's path does, as theory predicts it and as the run showed it.

A run with plain or momentum steps on this quadratic is a linear recurrence per eigen-direction of H. Theory
puts two edges in lr for each β:

* oscillation: a direction overshoots its minimum once its roots are no longer both positive and real, first
  the steep one: lr λmax > (1 - sqrt β)^2 for the heavy ball (1/λmax for plain gd, β = 0), lr λmax >
  ((1 - β)/(1 + β))^2 for Nesterov;
* stability: the rule's bound (2/λmax, 2(1 + β)/λmax, 2(1 + β)/((1 + 2β) λmax)).

The prediction runs the same recurrence in float64 from the run's own start, with the loop's stop test and
divergence rule, so "budget exhausted" is predicted too, and reads its regime from the predicted path as the
measurement reads it from the run: whether the error along an eigen-direction ever changed side while above
float32's noise (1e-3). Just past the oscillation edge the overshoot can be smaller than that, so theory and
run both call such a path monotone; the page says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

import numpy as np

from reportgen.core.i18n import N_
from reportgen.teach.remedies import (
    HOVER_TOLERANCE,
    NOISE,
    RATE_TOLERANCE,
    eigen_error,
    eigen_errors,
)
from reportgen.train.run import DIVERGENCE_FACTOR, RunResult, Status

#: A regime map marks at most this many cells (20 x 20): beyond, a letter per cell is too small to read and costs
#: seconds to draw, so a larger heatmap keeps its edges and its colours only.
MAP_LIMIT = 400
#: Runs within this share of an edge (in lr, or of the budget) may fall either side of it.
BAND = 0.02


class Regime(StrEnum):
    MONOTONE = "monotone"  # stopped, every direction creeping in from one side
    OSCILLATING = "oscillating"  # stopped, some direction overshooting its minimum and coming back
    DIVERGING = "diverging"
    BUDGET = "budget_exhausted"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def letter(self) -> str:
        """The one-letter mark a heatmap cell carries."""
        return {"monotone": "M", "oscillating": "O", "diverging": "D", "budget_exhausted": "B"}[self.value]


_LABELS = {Regime.MONOTONE: N_("monotone"), Regime.OSCILLATING: N_("oscillating"), Regime.DIVERGING: N_("diverging"),
           Regime.BUDGET: N_("budget exhausted")}


def has_theory(result: RunResult) -> bool:
    """Plain, heavy-ball or Nesterov steps on the full batch: a linear recurrence theory can follow."""
    p = result.spec.params
    return p.optimizer in ("gd", "momentum", "nesterov") and p.batch_size == 0


def oscillation_bound(result: RunResult) -> float | None:
    """The lr above which the steep direction overshoots (None: no theory for this run)."""
    if not has_theory(result):
        return None
    p, lam_max = result.spec.params, result.analysis.hessian_eigenvalues[1]
    beta = 0.0 if p.optimizer == "gd" else p.momentum
    edge = ((1 - beta) / (1 + beta)) ** 2 if p.optimizer == "nesterov" else (1 - math.sqrt(beta)) ** 2
    return edge / lam_max


def measured_regime(result: RunResult) -> Regime:
    t = result.trajectory
    if t.status == Status.DIVERGED:
        return Regime.DIVERGING
    if t.status == Status.BUDGET_EXHAUSTED:
        return Regime.BUDGET
    errors = eigen_errors(result)
    for i in range(errors.shape[1]):
        e = errors[:, i]
        e = e[np.abs(e) > NOISE]
        if len(e) > 1 and (np.sign(e[1:]) != np.sign(e[:-1])).any():
            return Regime.OSCILLATING
    return Regime.MONOTONE


def predicted_outcomes(results: Sequence[RunResult], stretch: float = 1.0) -> list[tuple[Status, int | None, bool]]:
    """Run each run's recurrence in float64, all runs at once: (status, stop iteration, overshoots) as the loop
    would end; ``overshoots``: some direction's error changed side while above noise.

    ``stretch``: give every run this many times its budget (to find the runs that stop just after it).
    """
    n = len(results)
    lam = np.array([r.analysis.hessian_eigenvalues for r in results], np.float64).reshape(n, 2)
    # Each run's start, the course's (w0, 0), as its error along the eigenvectors of the coordinates it trains in.
    e = np.array([eigen_error(r, r.data.w0, 0.0) for r in results], np.float64).reshape(n, 2)
    params = [r.spec.params for r in results]
    lr = np.array([p.lr for p in params])[:, None]
    beta = np.array([0.0 if p.optimizer == "gd" else p.momentum for p in params])[:, None]
    nesterov = np.array([p.optimizer == "nesterov" for p in params])[:, None]
    floor = np.array([r.analysis.loss_floor for r in results])
    threshold = np.array([p.threshold for p in params])
    budget = np.ceil(np.array([p.max_iters for p in params]) * stretch).astype(int)
    velocity = np.zeros_like(e)
    seen = np.zeros_like(e)  # the sign of each direction's error when it was last above noise (0: never)
    overshoots = np.zeros(n, bool)
    status = np.full(n, "", dtype=object)
    stop = np.full(n, -1)
    loss0 = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(budget.max(initial=0))):
            loss = floor + 0.5 * np.sum(lam * e * e, axis=1)
            loss0 = loss if loss0 is None else loss0
            live = status == ""
            sign = np.where(np.abs(e) > NOISE, np.sign(e), 0.0)
            overshoots |= live & ((sign * seen) < 0).any(axis=1)
            seen = np.where(sign != 0, sign, seen)
            diverged = live & (~np.isfinite(loss) | (loss > DIVERGENCE_FACTOR * loss0))
            stopped = live & ~diverged & (loss < threshold)
            status[diverged], status[stopped], stop[stopped] = Status.DIVERGED, Status.STOPPED, t
            status[(status == "") & (budget <= t + 1)] = Status.BUDGET_EXHAUSTED
            if not (status == "").any():
                break
            grad = lam * e
            velocity = beta * velocity + grad
            e = e - lr * np.where(nesterov, grad + beta * velocity, velocity)
    return [(Status(s) if s else Status.BUDGET_EXHAUSTED, int(k) if k >= 0 else None, bool(o))
            for s, k, o in zip(status, stop, overshoots)]


@dataclass(frozen=True)
class Cell:
    """One run of a regime map: the regime theory predicts, the one it showed, and whether it sits on an edge."""

    run_id: str
    predicted: Regime
    measured: Regime
    near_edge: bool

    @property
    def agrees(self) -> bool:
        return self.predicted == self.measured


def regime_cells(results: Sequence[RunResult]) -> list[Cell] | None:
    """Every run's predicted and measured regime, or None when some run has no theory (Adam, minibatches)."""
    if not results or not all(has_theory(r) for r in results):
        return None
    cells = []
    later = predicted_outcomes(results, stretch=1 + BAND)
    for r, (status, stop, overshoots), (status_later, _, _) in zip(results, predicted_outcomes(results), later):
        p = r.spec.params
        edges = (oscillation_bound(r), r.analysis.lr_max)
        near = any(e and abs(p.lr - e) <= BAND * e for e in edges)
        if status == Status.DIVERGED:
            predicted = Regime.DIVERGING
        elif status == Status.BUDGET_EXHAUSTED:
            predicted = Regime.BUDGET
        else:
            predicted = Regime.OSCILLATING if overshoots else Regime.MONOTONE
            near = near or (stop is not None and stop >= (1 - BAND) * p.max_iters)
        if predicted == Regime.BUDGET:
            near = near or status_later == Status.STOPPED  # it would stop within 2 % more iterations
        cells.append(Cell(r.id, predicted, measured_regime(r), near))
    return cells



@dataclass(frozen=True)
class RegimeMap:
    """A 2-D sweep over lr read as a regime map: how often theory and runs agree, and where they do not."""

    cells: tuple[Cell, ...]
    quiet: int  # runs past the oscillation edge whose overshoot stays below noise (theory and run: monotone)

    @property
    def agree(self) -> int:
        return sum(c.agrees for c in self.cells)

    @property
    def differ_off_edge(self) -> int:
        """Disagreements outside the ±2 % band around an edge (the claim is that there are none)."""
        return sum(not c.agrees and not c.near_edge for c in self.cells)

    @property
    def differing(self) -> tuple[str, ...]:
        return tuple(c.run_id for c in self.cells if not c.agrees)


def regime_map(results: Sequence[RunResult], dimensions: Sequence[str]) -> RegimeMap | None:
    """The regime map of a 2-D sweep with lr as one axis, when theory covers every run."""
    if len(dimensions) != 2 or "lr" not in dimensions or len(results) > MAP_LIMIT:
        return None
    cells = regime_cells(results)
    if cells is None:
        return None
    quiet = sum(c.predicted == Regime.MONOTONE and r.spec.params.lr > (oscillation_bound(r) or math.inf)
                for c, r in zip(cells, results))
    return RegimeMap(tuple(cells), quiet)


@dataclass(frozen=True)
class Tolerances:
    """What the page says its comparisons allow, in its own words (percent, and the noise floor)."""

    rate: str  # a measured time constant against its prediction
    hover: str  # a measured hover against its estimate
    band: str  # a regime map's cells near an edge
    noise: str  # an error below this is float32's noise


#: The tolerances of the remedies and of the regime maps, written as the page states them.
TOLERANCE = Tolerances(rate=f"{RATE_TOLERANCE * 100:g}", hover=f"{HOVER_TOLERANCE * 100:g}",
                       band=f"{BAND * 100:g}", noise=f"{NOISE:g}")
