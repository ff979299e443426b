"""Explanations computed from the runs: why each run stopped or not, and which general sentences hold.

Every number a page states comes from here, computed from this build's runs; the
templates only put words around them. A general sentence ("the slow mode sets the
count", "counts fall as the slope grows") is decided run by run or sweep by
sweep: the page states it only where this build's numbers hold it, and shows the
counter-case with its reason where they do not.

The closed form behind it (see :mod:`reportgen.train.analysis`): along each eigenvector
i of the Hessian H, one step multiplies the error by the signed factor
``f_i = 1 - lr * lambda_i``, so the loss above the floor is

    L_t - floor = excess_slow * f_slow^(2t) + excess_fast * f_fast^(2t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from reportgen.core.i18n import N_
from reportgen.train.analysis import closed_form
from reportgen.train.run import RunResult, Status


class StopCase(StrEnum):
    """Why a run ended as it did."""

    AT_START = "stopped_at_start"  # the threshold is above the initial loss
    REACHED = "reached_threshold"  # the loss fell below the threshold during training
    BELOW_FLOOR = "below_floor"  # the threshold is at or below what the loss can reach
    BUDGET_TOO_SHORT = "budget_too_short"  # reachable, but after the budget
    UNSTABLE = "unstable"  # lr above the stability bound


class Mode(StrEnum):
    """Which eigenmode of H sets a run's count."""

    SLOW = "slow"  # the slow mode alone gives the count
    FAST = "fast"  # the fast mode needs longer than the slow one: lr is near the bound
    BOTH = "both"  # neither alone: their sum crosses the threshold later than either

    @property
    def label(self) -> str:
        """The mode in words (an English msgid: translate it where it is shown)."""
        return _MODE_LABELS[self]


#: Each update rule in words (English msgids: translate them where they are shown).
RULES = {"gd": N_("plain gradient descent"), "momentum": N_("heavy-ball momentum"),
         "nesterov": N_("Nesterov momentum"), "adam": N_("Adam")}
_MODE_LABELS = {Mode.SLOW: N_("the slow mode"), Mode.FAST: N_("the fast mode"), Mode.BOTH: N_("both modes")}


#: The largest float32: the course's loop computes in float32, and its loss overflows beyond this.
FLOAT32_MAX = 3.4028234663852886e38
#: The slow mode "alone gives the count" when its estimate is within this many iterations (or 3 %).
SLOW_TOLERANCE = 2


@dataclass(frozen=True)
class Modes:
    """One run seen through the eigenmodes of its Hessian."""

    lambda_min: float
    lambda_max: float
    factor_slow: float  # 1 - lr * lambda_min, signed
    factor_fast: float  # 1 - lr * lambda_max, signed: negative means the error flips side every step
    excess_slow: float  # loss above the floor carried by each mode at t = 0
    excess_fast: float
    alone_slow: float | None  # iterations each mode alone needs to fall under threshold - floor
    alone_fast: float | None  # (inf: never, the mode grows; None: the threshold is at or below the floor)
    decides: Mode | None  # None: the run did not stop by its threshold
    knee: int | None  # first iteration from which the slow mode carries more excess than the fast one

    @property
    def zigzag(self) -> bool:
        """True when the fast error changes sign every step: the path zig-zags across the valley."""
        return self.factor_fast < 0

    @property
    def tau(self) -> float | None:
        """The slow time constant 1/(2 lr lambda_min): iterations for the slow excess to shrink by e."""
        rate = -math.log(abs(self.factor_slow)) if 0 < abs(self.factor_slow) < 1 else None
        return 1 / (2 * rate) if rate else None


def modes_of(result: RunResult) -> Modes:
    """Return a run's eigenmode view: signed factors, excess per mode, what each mode alone needs."""
    a, t, p = result.analysis, result.trajectory, result.spec.params
    margin = p.threshold - a.loss_floor
    (es, ef), (fs, ff) = a.initial_excess, a.factors
    alone_s, alone_f = alone(es, fs, margin), alone(ef, ff, margin)
    decides = None
    if closed_form(p) and t.status == Status.STOPPED and t.stop_iteration and alone_s is not None \
            and alone_f is not None:
        measured = t.stop_iteration
        if abs(alone_s - measured) <= max(SLOW_TOLERANCE, 0.03 * measured):
            decides = Mode.SLOW
        elif alone_f >= alone_s:
            decides = Mode.FAST
        else:
            decides = Mode.BOTH
    knee = None
    if ef > es > 0 and 0 < abs(ff) < abs(fs) < 1:  # a mode with no excess (x all ~0: λmin 0) has no knee
        knee = math.ceil(math.log(ef / es) / (2 * math.log(abs(fs) / abs(ff))))
    return Modes(a.hessian_eigenvalues[0], a.hessian_eigenvalues[1], fs, ff, es, ef, alone_s, alone_f, decides, knee)


def alone(excess: float, factor: float, margin: float) -> float | None:
    """Solve excess * factor^(2t) = margin for t: when one mode alone would bring the loss under the threshold."""
    if margin <= 0:
        return None
    if excess < margin:
        return 0.0
    if abs(factor) >= 1:
        return math.inf
    if factor == 0:
        return 1.0
    return math.log(excess / margin) / (-2 * math.log(abs(factor)))


@dataclass(frozen=True)
class StopExplanation:
    """Why one run stopped, or did not."""

    run_id: str
    case: StopCase
    threshold: float
    initial_loss: float
    final_loss: float | None
    loss_floor: float
    lowest_loss: float | None  # the lowest loss the loop ever saw
    iterations_run: int
    max_iters: int
    stop_iteration: int | None
    predicted_stop_iteration: int | None
    settle_iteration: int | None  # from here on the drawn fit stays within 1 px of where it ends
    lr: float
    lr_max: float
    diverged_at: int | None
    modes: Modes
    growth: float | None  # an unstable run's loss grows about this much per step: factor_fast ** 2
    course_loss: float | None  # the loss the course's loop (no divergence rule) would reach at its last iteration
    closed_form: bool = True  # plain full-batch gradient steps: the closed form's predictions apply
    rule: str = "gd"  # the update rule (the optimizer option)
    batch_size: int = 0  # points per step; 0: all
    full_final_loss: float | None = None  # the last loss over all points (a minibatch run's final_loss is its batch's)

    @property
    def updates_before_stop(self) -> int | None:
        """Updates applied by the iteration that stopped (it updates, then tests): stop_iteration + 1."""
        return None if self.stop_iteration is None else self.stop_iteration + 1

    @property
    def last_iteration(self) -> int:
        """The last iteration the loop ran (0-based)."""
        return self.iterations_run - 1


def explain_stop(result: RunResult, settle_iteration: int | None = None) -> StopExplanation:
    """Classify why a run ended as it did, with the numbers that show it.

    ``settle_iteration``: the iteration from which its animation's fit no longer moves visibly, if it settles.
    """
    t, a, p = result.trajectory, result.analysis, result.spec.params
    finite = t.loss[np.isfinite(t.loss)]
    modes = modes_of(result)
    if t.status == Status.DIVERGED or p.lr >= a.lr_max:
        case = StopCase.UNSTABLE
    elif t.status == Status.STOPPED and t.stop_iteration == 0:
        case = StopCase.AT_START
    elif t.status == Status.STOPPED:
        case = StopCase.REACHED
    elif p.threshold <= a.loss_floor:
        case = StopCase.BELOW_FLOOR
    else:
        case = StopCase.BUDGET_TOO_SHORT
    growth = course_loss = None
    if case == StopCase.UNSTABLE and closed_form(p):
        growth = modes.factor_fast ** 2
        # The course loop computes in float32: beyond its largest value the loss is inf, then nan.
        at_end = float(a.loss_at(p.max_iters - 1))
        course_loss = at_end if math.isfinite(at_end) and at_end <= FLOAT32_MAX else None
    return StopExplanation(
        run_id=result.id,
        case=case,
        threshold=p.threshold,
        initial_loss=t.initial_loss,
        final_loss=t.final_loss if math.isfinite(t.final_loss) else None,
        loss_floor=a.loss_floor,
        lowest_loss=float(finite.min()) if finite.size else None,
        iterations_run=t.iterations_run,
        max_iters=p.max_iters,
        stop_iteration=t.stop_iteration,
        predicted_stop_iteration=a.predicted_stop_iteration,
        settle_iteration=settle_iteration,
        lr=p.lr,
        lr_max=a.lr_max,
        diverged_at=t.diverged_at,
        modes=modes,
        growth=growth,
        course_loss=course_loss,
        closed_form=closed_form(p),
        rule=p.optimizer,
        batch_size=p.batch_size,
        full_final_loss=float(t.loss_of_all_points[-1]) if math.isfinite(t.loss_of_all_points[-1]) else None,
    )
