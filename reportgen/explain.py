"""Explanations computed from the runs: why each run stopped or not, and what the theory predicts.

Every number a page states comes from here, computed from this build's runs;
the templates only put words around them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from .formatting import run_label
from .results import RunResult
from .trajectory import Status


class StopCase(StrEnum):
    """Why a run ended as it did."""

    AT_START = "stopped_at_start"  # the threshold is above the initial loss
    REACHED = "reached_threshold"  # the loss fell below the threshold during training
    BELOW_FLOOR = "below_floor"  # the threshold is at or below what the loss can reach
    BUDGET_TOO_SHORT = "budget_too_short"  # reachable, but after the budget
    UNSTABLE = "unstable"  # lr above the stability bound


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


@dataclass(frozen=True)
class ModeRow:
    """One run seen through the Hessian's eigenmodes: why its count is what it is."""

    run_id: str
    label: str
    lambda_min: float
    lambda_max: float
    condition_number: float
    lr: float
    lr_max: float
    lr_ratio: float  # lr / lr_max
    slow_contraction: float  # |1 - lr*lambda_min| per step
    fast_contraction: float
    initial_excess_slow: float  # loss above the floor carried by the slow mode at t=0
    initial_excess_fast: float
    status: Status
    stop_iteration: int | None
    predicted_stop_iteration: int | None
    agrees: bool | None  # prediction equals measurement (None when there is no prediction)
    slow_mode_estimate: float | None  # iterations the slow mode alone needs to bring the loss under the threshold


def slow_mode_estimate(excess_slow: float, contraction: float, threshold: float, floor: float) -> float | None:
    """Solve floor + excess * c^(2t) = threshold for t: the count if only the slow mode mattered."""
    margin = threshold - floor
    if margin <= 0 or excess_slow <= 0 or not 0 < contraction < 1:
        return None
    return max(0.0, math.log(excess_slow / margin) / (-2.0 * math.log(contraction)))


def explain_stop(result: RunResult, settle_iteration: int | None = None) -> StopExplanation:
    """Classify why a run ended as it did, with the numbers that show it.

    ``settle_iteration``: the iteration from which its animation's fit no longer moves visibly, if it settles.
    """
    t, a, p = result.trajectory, result.analysis, result.spec.params
    finite = [v for v in t.loss.tolist() if math.isfinite(v)]
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
    return StopExplanation(
        run_id=result.id,
        case=case,
        threshold=p.threshold,
        initial_loss=t.initial_loss,
        final_loss=t.final_loss if math.isfinite(t.final_loss) else None,
        loss_floor=a.loss_floor,
        lowest_loss=min(finite) if finite else None,
        iterations_run=t.iterations_run,
        max_iters=p.max_iters,
        stop_iteration=t.stop_iteration,
        predicted_stop_iteration=a.predicted_stop_iteration,
        settle_iteration=settle_iteration,
        lr=p.lr,
        lr_max=a.lr_max,
        diverged_at=t.diverged_at,
    )


def mode_rows(results: Sequence[RunResult]) -> list[ModeRow]:
    """Return each run's eigenmode view, for the theory-against-measurement table."""
    rows = []
    for r in results:
        a, t, p = r.analysis, r.trajectory, r.spec.params
        label = run_label(r.spec.varied)
        predicted = a.predicted_stop_iteration
        agrees = None
        if predicted is not None and t.status != Status.DIVERGED:
            agrees = predicted == t.stop_iteration if t.status == Status.STOPPED else predicted >= p.max_iters
        rows.append(ModeRow(
            run_id=r.id, label=label,
            lambda_min=a.hessian_eigenvalues[0], lambda_max=a.hessian_eigenvalues[1],
            condition_number=a.condition_number, lr=p.lr, lr_max=a.lr_max, lr_ratio=p.lr / a.lr_max,
            slow_contraction=a.contraction[0], fast_contraction=a.contraction[1],
            initial_excess_slow=a.initial_excess[0], initial_excess_fast=a.initial_excess[1],
            status=t.status, stop_iteration=t.stop_iteration, predicted_stop_iteration=predicted, agrees=agrees,
            slow_mode_estimate=slow_mode_estimate(a.initial_excess[0], a.contraction[0], p.threshold, a.loss_floor),
        ))
    return rows


@dataclass(frozen=True)
class SweepFindings:
    """What a sweep shows, in numbers: the trend of its stop counts and its unstable runs."""

    name: str
    stops: list[tuple[str, int | None]]  # (label, stop iteration) in sweep order
    falls_as_value_grows: bool | None  # for one varied parameter: do counts fall as it grows?
    varied: str | None
    unstable: list[str]
    lr_max: float | None  # the bound, when every run shares the same data


def sweep_findings(name: str, results: Sequence[RunResult]) -> SweepFindings:
    """Summarise one sweep's runs."""
    keys = list(results[0].spec.varied) if results else []
    varied = keys[0] if len(keys) == 1 else None
    stops = [(run_label(r.spec.varied), r.trajectory.stop_iteration) for r in results]
    trend = None
    if varied is not None:
        pairs = sorted((r.spec.varied[varied], r.trajectory.stop_iteration) for r in results)
        counts = [c for _, c in pairs if c is not None]
        if len(counts) == len(pairs) and len(counts) >= 2:
            trend = all(b < a for a, b in zip(counts, counts[1:]))
    bounds = {round(r.analysis.lr_max, 12) for r in results}
    return SweepFindings(
        name=name, stops=stops, falls_as_value_grows=trend, varied=varied,
        unstable=[r.id for r in results if r.trajectory.status == Status.DIVERGED],
        lr_max=results[0].analysis.lr_max if len(bounds) == 1 and results else None,
    )


def excess_orders_counts(rows: Sequence[ModeRow]) -> bool:
    """True when more initial slow-mode excess always means a later stop, across stopped runs."""
    stopped = sorted((r.initial_excess_slow, r.stop_iteration) for r in rows if r.stop_iteration is not None)
    return len(stopped) >= 2 and all(a[1] <= b[1] for a, b in zip(stopped, stopped[1:]))
