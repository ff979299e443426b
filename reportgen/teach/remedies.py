"""What a practitioner does about the slow valley, decided from this build's runs.

Four remedies, each compared with plain gradient descent on the same loss surface:

* standardised inputs: x' = (x - mean) / std makes H' = I (κ = 1), so one lr suits both directions;
* heavy-ball momentum: per eigen-direction the error follows e[t+1] = (1 + β - lr λ) e[t] - β e[t-1]; the
  slow direction stops creeping monotonically (it rings) once β > (1 - sqrt(lr λmin))^2, which is also the β
  that makes it fastest at this lr, with rate sqrt(β). At the best lr as well, β* = ((sqrt κ - 1)/(sqrt κ + 1))^2;
* Adam: no closed form. Its step is about lr for each parameter whatever that parameter's gradient, which is
  shown from the run (step / gradient: each parameter's own learning rate);
* minibatches: the loss stops falling and hovers above the floor. With the points reshuffled every epoch the
  batches' noise cancels over the epoch, so the hover grows as lr^2, not lr: to first order
  hover ≈ lr^2 tr(H Σ) (m + 1) / 12, where Σ = C (n - B) / (B (n - 1)) is the covariance of one batch's
  gradient at the minimum (C of one point's) and m the batches per epoch. It assumes equal batches and small
  steps; the page says where the measured hover leaves it by more than 20 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.core.formatting import run_label
from reportgen.train.analysis import closed_form, trained_units
from reportgen.train.run import RunResult, Status

#: A sweep of at most this many runs that trains with a remedy is a comparison of remedies: the page draws its paths
#: on one surface and explains each run. A larger one (a regime map) is read through its heatmap instead.
COMPARED = 8
#: The share by which a measured time constant may differ from its prediction and still "agree".
RATE_TOLERANCE = 0.15
#: The share by which a measured hover may differ from its estimate and still "agree".
HOVER_TOLERANCE = 0.20
#: A rate is fitted over at least this many iterations, or not measured.
MIN_FIT = 20
#: Iterations whose error along a direction is below this are float32 noise: rates are not measured there.
NOISE = 1e-3


def uses_remedy(result: RunResult) -> bool:
    """True when a run trains with anything but the course's plain full-batch step on x as drawn."""
    p = result.spec.params
    return p.optimizer != "gd" or p.standardize or p.batch_size != 0


def to_trained(result: RunResult, w, b):
    """Map (w, b) in the original units to the coordinates the run trained in: w' = w std, b' = b + w mean."""
    mean, std = trained_units(result.data, result.spec.params)
    return w * std, b + w * mean


def trained_path(result: RunResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the run's x and its path (w', b') per iteration in the coordinates it trained in (float64)."""
    mean, std = trained_units(result.data, result.spec.params)
    x = (result.data.x.astype(np.float64) - mean) / std
    return (x, *to_trained(result, result.trajectory.w.astype(np.float64), result.trajectory.b.astype(np.float64)))


def eigen_error(result: RunResult, w, b) -> np.ndarray:
    """Return the error of (w, b) (original units; arrays or numbers) along each eigenvector of H, slow one first."""
    a = result.analysis
    star = np.array(to_trained(result, a.w_star, a.b_star))
    return (np.stack(np.broadcast_arrays(*to_trained(result, w, b)), axis=-1) - star) @ np.array(a.eigenvectors)


def eigen_errors(result: RunResult) -> np.ndarray:
    """Return the error along each eigenvector of H at each iteration, (iterations, 2), slow direction first."""
    return eigen_error(result, result.trajectory.w.astype(np.float64), result.trajectory.b.astype(np.float64))


def measured_factors(result: RunResult) -> tuple[float | None, float | None]:
    """The median of e[t+1] / e[t] along each direction, over the iterations where e is above float32 noise."""
    errors = eigen_errors(result)
    out = []
    for i in range(2):
        e = errors[:, i]
        ok = (np.abs(e[:-1]) > NOISE) & (np.abs(e[1:]) > NOISE)
        out.append(float(np.median(e[1:][ok] / e[:-1][ok])) if ok.any() else None)
    return out[0], out[1]


def measured_rate(result: RunResult) -> float | None:
    """The error's shrink per step, fitted over the second half of the iterations where it is above noise."""
    norm = np.linalg.norm(eigen_errors(result), axis=1)
    t = np.nonzero(norm > NOISE)[0]
    t = t[len(t) // 2:]
    if len(t) < MIN_FIT:
        return None
    slope = np.polyfit(t, np.log(norm[t]), 1)[0]
    return float(math.exp(slope))


@dataclass(frozen=True)
class Twin:
    """A gradient-descent run against its standardised twin: the same data, lr and threshold."""

    label: str
    kappa: tuple[float, float]  # raw, standardised
    lr_max: tuple[float, float]  # 2 / λmax of each
    stop: tuple[int | None, int | None]
    status: tuple[Status, Status]


def standardised_twins(results: Sequence[RunResult]) -> list[Twin]:
    """Every plain-gd run on raw x that has a twin differing only in ``standardize``."""
    by_params = {tuple(sorted(r.spec.params.to_dict().items())): r for r in results}
    out = []
    for r in results:
        p = r.spec.params
        if p.standardize or not closed_form(p):
            continue
        twin = by_params.get(tuple(sorted(p.replace(standardize=True).to_dict().items())))
        if twin is None:
            continue
        out.append(Twin(run_label({k: v for k, v in r.spec.varied.items() if k != "standardize"}),
                        (r.analysis.condition_number, twin.analysis.condition_number),
                        (r.analysis.lr_max, twin.analysis.lr_max),
                        (r.trajectory.stop_iteration, twin.trajectory.stop_iteration),
                        (r.trajectory.status, twin.trajectory.status)))
    return out


@dataclass(frozen=True)
class MomentumRun:
    """A heavy-ball or Nesterov run: the rate its β predicts against the rate it showed."""

    run_id: str
    label: str
    optimizer: str
    lr: float
    beta: float
    kappa: float
    gd_rate: float  # |1 - lr λmin|: plain gd's slow factor at the same lr
    predicted_rate: float  # the largest root modulus over both directions
    measured_rate: float | None
    ring_beta: float | None  # heavy ball: above this β the slow direction rings (and this β is the fastest at this lr)
    best_beta: float  # ((sqrt κ - 1) / (sqrt κ + 1))^2, with lr at 4 / (sqrt λmax + sqrt λmin)^2
    best_lr: float
    best_rate: float  # sqrt(best_beta)
    lr_max: float  # the rule's stability bound
    lambda_max: float
    status: Status
    stop_iteration: int | None

    @property
    def rings(self) -> bool | None:
        return None if self.ring_beta is None else self.beta > self.ring_beta

    @property
    def predicted_tau(self) -> float:
        """Iterations for the error to shrink by e at the predicted rate: -1 / ln(rate)."""
        return -1 / math.log(self.predicted_rate) if 0 < self.predicted_rate < 1 else math.inf

    @property
    def measured_tau(self) -> float | None:
        if self.measured_rate is None or not 0 < self.measured_rate < 1:
            return None
        return -1 / math.log(self.measured_rate)

    @property
    def agrees(self) -> bool | None:
        """The measured time constant within RATE_TOLERANCE of the predicted one (None: nothing measured).

        Compared as time constants, not as rates: 0.943 against 0.949 is 0.7 % apart as a factor but 11 % in
        how fast the error falls.
        """
        if self.measured_tau is None:
            return None
        return abs(self.measured_tau / self.predicted_tau - 1) <= RATE_TOLERANCE

    @property
    def best_bound(self) -> float:
        """The heavy ball's stability bound 2(1 + β*)/λmax at the best β: the best lr lies well below it."""
        return 2 * (1 + self.best_beta) / self.lambda_max


def momentum_runs(results: Sequence[RunResult]) -> list[MomentumRun]:
    """Every full-batch heavy-ball or Nesterov run, with its predicted and measured rates."""
    out = []
    for r in results:
        p, a = r.spec.params, r.analysis
        if p.optimizer not in ("momentum", "nesterov") or p.momentum == 0 or p.batch_size:
            continue
        lam_min, lam_max = a.hessian_eigenvalues
        root = math.sqrt(a.condition_number)
        best_beta = ((root - 1) / (root + 1)) ** 2
        ring = (1 - math.sqrt(p.lr * lam_min)) ** 2 if p.optimizer == "momentum" and p.lr * lam_min < 1 else None
        measured = measured_rate(r) if r.trajectory.status != Status.DIVERGED else None
        out.append(MomentumRun(r.id, run_label(r.spec.varied), p.optimizer, p.lr, p.momentum, a.condition_number,
                               abs(1 - p.lr * lam_min), max(a.factors), measured, ring, best_beta,
                               4 / (math.sqrt(lam_max) + math.sqrt(lam_min)) ** 2, math.sqrt(best_beta), a.lr_max,
                               lam_max, r.trajectory.status, r.trajectory.stop_iteration))
    return out


@dataclass(frozen=True)
class AdamStep:
    """One Adam step, per parameter (trained coordinates): its size, the gradient, and their ratio."""

    iteration: int
    step: tuple[float, float]  # |Δw'|, |Δb'|
    grad: tuple[float, float]  # |dL/dw'|, |dL/db'|

    @property
    def own_lr(self) -> tuple[float | None, float | None]:
        """Each parameter's effective learning rate, step / gradient (plain gd: lr for both)."""
        return tuple(s / g if g else None for s, g in zip(self.step, self.grad))  # type: ignore[return-value]


@dataclass(frozen=True)
class AdamRun:
    """An Adam run: its steps at a few iterations, each parameter's size against its gradient."""

    run_id: str
    label: str
    lr: float
    steps: tuple[AdamStep, ...]
    status: Status
    stop_iteration: int | None


def adam_runs(results: Sequence[RunResult], at: Sequence[int] = (0, 1, 10, 50, 100)) -> list[AdamRun]:
    """Every full-batch Adam run, read at iterations ``at`` and at its last step."""
    out = []
    for r in results:
        p = r.spec.params
        if p.optimizer != "adam" or p.batch_size or r.trajectory.iterations_run < 2:
            continue
        x, w, b = trained_path(r)
        y = r.data.y.astype(np.float64)
        last = len(w) - 2
        rows = []
        for t in sorted({i for i in at if i <= last} | {last}):
            residual = w[t] * x + b[t] - y
            grad = (abs(float(np.mean(residual * x))), abs(float(np.mean(residual))))
            rows.append(AdamStep(t, (abs(w[t + 1] - w[t]), abs(b[t + 1] - b[t])), grad))
        out.append(AdamRun(r.id, run_label(r.spec.varied), p.lr, tuple(rows), r.trajectory.status,
                           r.trajectory.stop_iteration))
    return out


@dataclass(frozen=True)
class Hover:
    """A minibatch run that ran its budget: how far above the floor its loss (over all points) hovers."""

    run_id: str
    label: str
    lr: float
    batch_size: int
    n_points: int
    predicted: float
    measured: float
    window: tuple[int, int]  # the iterations averaged over
    lucky: int  # iterations whose batch loss was below the floor: a stop test there passes by luck

    @property
    def ratio(self) -> float:
        return self.measured / self.predicted if self.predicted else math.inf

    @property
    def agrees(self) -> bool:
        return abs(self.ratio - 1) <= HOVER_TOLERANCE

    @property
    def uneven(self) -> bool:
        """The last batch of an epoch is smaller than the others: the epoch's noise no longer cancels."""
        return self.n_points % self.batch_size != 0


def hover_estimate(result: RunResult) -> float:
    """lr^2 tr(H Σ) (m + 1) / 12: the reshuffled minibatches' hover above the floor, to first order."""
    p, a = result.spec.params, result.analysis
    x = trained_path(result)[0]
    y = result.data.y.astype(np.float64)
    w_star, b_star = to_trained(result, a.w_star, a.b_star)
    per_point = np.stack([(w_star * x + b_star - y) * x, w_star * x + b_star - y], axis=1)
    n, size = len(x), p.batch_size
    covariance = per_point.T @ per_point / n * (n - size) / (size * (n - 1))
    batches = -(-n // size)
    return float(p.lr ** 2 * np.trace(np.array(a.hessian) @ covariance) * (batches + 1) / 12)


def hovers(results: Sequence[RunResult]) -> list[Hover]:
    """Every minibatch run with plain steps that ran at least 200 iterations without stopping or diverging."""
    out = []
    for r in results:
        p, t = r.spec.params, r.trajectory
        if not p.batch_size or p.optimizer != "gd" or t.status != Status.BUDGET_EXHAUSTED or t.iterations_run < 200:
            continue
        start = t.iterations_run // 2
        measured = float(np.mean(t.loss_of_all_points[start:].astype(np.float64))) - r.analysis.loss_floor
        lucky = int(np.sum(t.loss < r.analysis.loss_floor))
        out.append(Hover(r.id, run_label(r.spec.varied), p.lr, p.batch_size, p.n_points, hover_estimate(r), measured,
                         (start, t.iterations_run - 1), lucky))
    return out


@dataclass(frozen=True)
class Remedies:
    """Everything the remedies section states, from this build's runs."""

    twins: tuple[Twin, ...]
    momentum: tuple[MomentumRun, ...]
    adam: tuple[AdamRun, ...]
    hovers: tuple[Hover, ...]

    def __bool__(self) -> bool:
        return bool(self.twins or self.momentum or self.adam or self.hovers)


def compares_remedies(runs: Sequence[RunResult]) -> bool:
    """A sweep whose runs share their data and differ in how they train: at most COMPARED of them, one with a
    remedy. The page draws their paths on one surface and explains each run."""
    return 1 < len(runs) <= COMPARED and any(uses_remedy(r) for r in runs) \
        and len({(r.spec.params.seed, r.spec.params.n_points, r.spec.params.x_max, r.spec.params.slope,
                  r.spec.params.intercept, r.spec.params.noise) for r in runs}) == 1


def compared(results: Sequence[RunResult]) -> list[RunResult]:
    """The runs of the sweeps that compare remedies (:func:`compares_remedies`)."""
    sweeps: dict[str, list[RunResult]] = {}
    for r in results:
        sweeps.setdefault(r.spec.sweep, []).append(r)
    return [r for runs in sweeps.values() if compares_remedies(runs) for r in runs]


def remedies(results: Sequence[RunResult]) -> Remedies:
    """What the remedies section states, from the runs of the sweeps that compare remedies."""
    results = compared(results)
    return Remedies(tuple(standardised_twins(results)), tuple(momentum_runs(results)), tuple(adam_runs(results)),
                    tuple(hovers(results)))
