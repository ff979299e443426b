"""General sentences about a sweep, decided from its runs: the theory table, shared data, trends and products.

A sentence such as "counts fall as the slope grows" is decided group by group: the page states it only where
this build's numbers hold it, and shows the counter-case with its reason where they do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from reportgen.core.formatting import num, param, run_label
from reportgen.teach.stops import Mode, Modes, modes_of
from reportgen.train.analysis import closed_form
from reportgen.train.run import RunResult, Status


@dataclass(frozen=True)
class ModeRow:
    """One run in the theory table: what its modes predict against what it did."""

    run_id: str
    label: str
    lr: float
    modes: Modes
    status: Status
    stop_iteration: int | None
    predicted_stop_iteration: int | None
    agrees: bool | None  # prediction equals measurement (None when there is no prediction)


def mode_rows(results: Sequence[RunResult]) -> list[ModeRow]:
    """Return each run's eigenmode view, for the theory-against-measurement table."""
    rows = []
    for r in (r for r in results if closed_form(r.spec.params)):
        t, p, predicted = r.trajectory, r.spec.params, r.analysis.predicted_stop_iteration
        agrees = None
        if predicted is not None and t.status != Status.DIVERGED:
            agrees = predicted == t.stop_iteration if t.status == Status.STOPPED else predicted >= p.max_iters
        rows.append(ModeRow(r.id, run_label(r.spec.varied), p.lr, modes_of(r), t.status, t.stop_iteration,
                            predicted, agrees))
    return rows


@dataclass(frozen=True)
class SharedData:
    """What every run of a set shares when they train on the same x (H depends on x only)."""

    lambda_min: float
    lambda_max: float
    condition_number: float
    lr_max: float


def shared_data(results: Sequence[RunResult]) -> SharedData | None:
    """Return the Hessian facts the runs share, or None when their x differ."""
    if not results:
        return None
    a = results[0].analysis
    if any(not math.isclose(r.analysis.hessian_eigenvalues[i], a.hessian_eigenvalues[i], rel_tol=1e-9)
           for r in results for i in (0, 1)):
        return None
    # 2/λmax, plain gd's bound, whatever the first run's rule (a heavy ball's own bound is higher)
    return SharedData(a.hessian_eigenvalues[0], a.hessian_eigenvalues[1], a.condition_number,
                      2.0 / a.hessian_eigenvalues[1])


class Direction(StrEnum):
    """How a group's stop counts move as one parameter grows."""

    FALLS = "falls"  # every count below the one before
    RISES = "rises"  # never below the one before, and the last above the first
    MIXED = "mixed"


@dataclass(frozen=True)
class StartError:
    """Where a run starts against where its minimum is, and that error split along the Hessian's eigen-directions."""

    label: str
    start: tuple[float, float]  # (w0, b0)
    minimum: tuple[float, float]  # (w*, b*)
    distance: float
    along_slow: float  # the error's component along the slow eigen-direction (signed)
    along_fast: float
    slow_direction: tuple[float, float]  # the slow eigenvector (w, b), its sign chosen so that b's part is positive


def start_error(r: RunResult) -> StartError:
    a = r.analysis
    (v00, v01), (v10, v11) = a.eigenvectors  # columns: slow (v00, v10), fast (v01, v11)
    sign_slow, sign_fast = (1 if v10 >= 0 else -1), (1 if v01 >= 0 else -1)
    slow, fast = (sign_slow * v00, sign_slow * v10), (sign_fast * v01, sign_fast * v11)
    e = (r.data.w0 - a.w_star, 0.0 - a.b_star)
    return StartError(run_label(r.spec.varied), (r.data.w0, 0.0), (a.w_star, a.b_star), math.hypot(*e),
                      slow[0] * e[0] + slow[1] * e[1], fast[0] * e[0] + fast[1] * e[1], slow)


@dataclass(frozen=True)
class Trend:
    """How the stop counts move as one parameter grows, the others fixed."""

    varied: str  # the parameter that grows
    fixed: str  # the other varied values, as a label ("" for a 1-D sweep)
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    direction: Direction
    decides: tuple[Mode | None, ...]  # which mode set each count
    factor_fast: float  # 1 - lr lambda_max of the group (the slope changes neither lr nor x)
    excess_slow: tuple[float, ...]  # the starting loss each mode carries, run by run
    excess_fast: tuple[float, ...]
    errors: tuple[StartError, ...] = ()  # each run's start against its minimum

    @property
    def same_start(self) -> bool:
        """True when every run starts from the same (w, b): the seed draws the same w whatever the slope."""
        return len({e.start for e in self.errors}) == 1

    @property
    def follows_distance(self) -> bool:
        """True when the counts fall exactly as the distance from the start to the minimum does."""
        return _same_order([e.distance for e in self.errors], self.counts)

    @property
    def follows_slow_error(self) -> bool:
        """True when the counts fall exactly as the error along the slow direction (its size) does."""
        return _same_order([abs(e.along_slow) for e in self.errors], self.counts)

    @property
    def minima(self) -> tuple[str, ...]:
        """Each run's minimum with its value, "(1.071, 4.803) at slope = 1"."""
        return tuple(f"({num(e.minimum[0])}, {num(e.minimum[1])}) ({e.label})" for e in self.errors)

    @property
    def distances(self) -> tuple[str, ...]:
        return tuple(f"{num(e.distance)} ({e.label})" for e in self.errors)

    @property
    def slow_errors(self) -> tuple[str, ...]:
        return tuple(f"{num(abs(e.along_slow))} ({e.label})" for e in self.errors)

    def labels_where(self, mode: Mode) -> tuple[str, ...]:
        """The runs whose count ``mode`` sets (Mode.BOTH: neither mode alone)."""
        return tuple(label for label, d in zip(self.labels, self.decides) if d == mode)

    @property
    def falls(self) -> bool:
        """True when the counts fall as the parameter grows: the sentence the page states where it holds."""
        return self.direction == Direction.FALLS

    @property
    def steps(self) -> tuple[str, ...]:
        """Each run's value and count, "slope = 1 → 100" (symbols and numbers: the same in every language)."""
        return tuple(f"{label} → {count}" for label, count in zip(self.labels, self.counts))

    @property
    def slow_excesses(self) -> tuple[str, ...]:
        """Each run's slow excess with its value, "0.1234 (slope = 1)"."""
        return tuple(f"{num(excess)} ({label})" for label, excess in zip(self.labels, self.excess_slow))

    @property
    def less_slow_excess_fewer_iterations(self) -> bool:
        """True when the counts fall exactly as the slow excess does: the slow mode's rule, seen in the numbers."""
        return self.slow_throughout and all(
            (b < a) == (cb < ca) for a, b, ca, cb in zip(self.excess_slow, self.excess_slow[1:], self.counts, self.counts[1:]))

    @property
    def slow_throughout(self) -> bool:
        """True when the slow mode alone sets every count of the group."""
        return all(m == Mode.SLOW for m in self.decides)


def slope_trends(results: Sequence[RunResult]) -> list[Trend]:
    """Return, for each group of runs that differ only in slope, whether their counts fall as the slope grows.

    Groups of fewer than 3 stopped runs say too little and are left out.
    """
    groups: dict[tuple, list[RunResult]] = {}
    for r in results:
        if "slope" not in r.spec.varied:
            continue
        others = tuple((k, v) for k, v in r.spec.varied.items() if k != "slope")
        groups.setdefault(others, []).append(r)
    trends = []
    for others, runs in groups.items():
        runs = sorted(runs, key=lambda r: r.spec.params.slope)
        if len(runs) < 3 or any(r.trajectory.stop_iteration is None for r in runs):
            continue
        counts = tuple(r.trajectory.stop_iteration for r in runs)
        pairs = list(zip(counts, counts[1:]))
        direction = (Direction.FALLS if all(b < a for a, b in pairs) else
                     Direction.RISES if all(b >= a for a, b in pairs) and counts[-1] > counts[0] else Direction.MIXED)
        modes = [modes_of(r) for r in runs]
        trends.append(Trend("slope", run_label(dict(others)), tuple(run_label({"slope": r.spec.params.slope}) for r in runs),
                            counts, direction, tuple(m.decides for m in modes), modes[0].factor_fast,
                            tuple(m.excess_slow for m in modes), tuple(m.excess_fast for m in modes),
                            tuple(start_error(r) for r in runs)))
    return trends


def _same_order(keys: Sequence[float], counts: Sequence[int]) -> bool:
    """True when sorting the runs by ``keys`` sorts their counts too (ties in neither)."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return len(set(keys)) == len(keys) and all(counts[i] < counts[j] for i, j in zip(order, order[1:]))


@dataclass(frozen=True)
class LrProducts:
    """Runs that differ only in lr, where the slow mode sets the count: iterations x lr is about constant."""

    fixed: str  # what they share, as a label
    lrs: tuple[float, ...]
    counts: tuple[int, ...]
    products: tuple[float, ...]
    predicted: float  # ln(excess_slow / margin) / (2 lambda_min): the product the closed form gives

    @property
    def rows(self) -> tuple[str, ...]:
        """Each run as "lr 0.01 → 316 (3.16)": its lr, its count and their product."""
        return tuple(f"lr {param(lr)} → {count} ({num(product)})"
                     for lr, count, product in zip(self.lrs, self.counts, self.products))


def lr_products(results: Sequence[RunResult], prefer: dict | None = None) -> LrProducts | None:
    """Return the largest group of slow-mode runs that differ only in lr (the one sharing ``prefer`` first)."""
    groups: dict[tuple, list[RunResult]] = {}
    for r in results:
        if "lr" in r.spec.varied and modes_of(r).decides == Mode.SLOW:
            others = tuple((k, v) for k, v in r.spec.varied.items() if k != "lr")
            groups.setdefault(others, []).append(r)
    ranked = sorted(groups.items(), key=lambda kv: (dict(kv[0]).items() <= (prefer or {}).items(), len(kv[1])))
    if not ranked or len(ranked[-1][1]) < 3:
        return None
    others, runs = ranked[-1]
    runs = sorted(runs, key=lambda r: r.spec.params.lr)
    m = modes_of(runs[0])
    margin = runs[0].spec.params.threshold - runs[0].analysis.loss_floor
    return LrProducts(run_label(dict(others)), tuple(r.spec.params.lr for r in runs),
                      tuple(r.trajectory.stop_iteration for r in runs),
                      tuple(r.trajectory.stop_iteration * r.spec.params.lr for r in runs),
                      math.log(m.excess_slow / margin) / (2 * m.lambda_min))


@dataclass(frozen=True)
class Instability:
    """A sweep's runs on one data set against plain gd's bound 2/λmax, as each went.

    "The runs above it diverged" is said only when every run above it diverged and no run below did; otherwise
    the page names the runs above it that did not (a heavy ball's own bound, 2(1 + β)/λmax, is higher) and the
    runs below it that diverged all the same.
    """

    above_diverged: tuple[tuple[str, str], ...]  # (label, run id)
    above_converged: tuple[tuple[str, str, float], ...]  # (label, run id, the bound of its own rule, above its lr)
    above_both: tuple[tuple[str, str, float], ...]  # above its own rule's bound too, yet it did not diverge
    below_diverged: tuple[tuple[str, str, float], ...]  # (label, run id, the bound of its own rule): Nesterov's is lower

    @property
    def bound_holds(self) -> bool:
        return bool(self.above_diverged) and not (self.above_converged or self.above_both or self.below_diverged)


def instability(results: Sequence[RunResult], shared: SharedData | None) -> Instability | None:
    """Sort a shared-data sweep's runs by the plain bound and their outcome (None: no shared data, or nothing to
    say: no run above the bound and none diverged)."""
    if shared is None:
        return None
    above_diverged, above_converged, above_both, below_diverged = [], [], [], []
    for r in results:  # one pass: a 10,000-run grid's membership tests cost 0.9 s as lists
        lr, own, diverged = r.spec.params.lr, r.analysis.lr_max, r.trajectory.status == Status.DIVERGED
        if lr > shared.lr_max and diverged:
            above_diverged.append((run_label(r.spec.varied), r.id))
        elif lr > shared.lr_max:
            (above_converged if lr < own else above_both).append((run_label(r.spec.varied), r.id, own))
        elif diverged:
            below_diverged.append((run_label(r.spec.varied), r.id, own))
    if not (above_diverged or above_converged or above_both or below_diverged):
        return None
    return Instability(tuple(above_diverged), tuple(above_converged), tuple(above_both), tuple(below_diverged))


@dataclass(frozen=True)
class SweepFindings:
    """What a sweep shows, in numbers: its trends, and its runs against the stability bound."""

    name: str
    trends: tuple[Trend, ...]
    shared: SharedData | None  # when every run shares the same data
    instability: Instability | None  # when it shares its data, and some run is above the bound or diverged


def sweep_findings(name: str, results: Sequence[RunResult]) -> SweepFindings:
    """Summarise one sweep's runs."""
    shared = shared_data(results)
    return SweepFindings(name=name, trends=tuple(slope_trends(results)), shared=shared,
                         instability=instability(results, shared))
