"""Explanations computed from the runs: why each run stopped or not, and which general sentences hold.

Every number a page states comes from here, computed from this build's runs; the
templates only put words around them. A general sentence ("the slow mode sets the
count", "counts fall as the slope grows") is decided run by run or sweep by
sweep: the page states it only where this build's numbers hold it, and shows the
counter-case with its reason where they do not.

The closed form behind it (see :mod:`reportgen.analysis`): along each eigenvector
i of the Hessian H, one step multiplies the error by the signed factor
``f_i = 1 - lr * lambda_i``, so the loss above the floor is

    L_t - floor = excess_slow * f_slow^(2t) + excess_fast * f_fast^(2t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from .course import COURSE_WINDOW, CourseWindow
from .formatting import run_label
from .i18n import N_
from .results import RunResult
from .trajectory import Status


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
    if t.status == Status.STOPPED and t.stop_iteration and alone_s is not None and alone_f is not None:
        measured = t.stop_iteration
        if abs(alone_s - measured) <= max(SLOW_TOLERANCE, 0.03 * measured):
            decides = Mode.SLOW
        elif alone_f >= alone_s:
            decides = Mode.FAST
        else:
            decides = Mode.BOTH
    knee = None
    if ef > es and abs(ff) < abs(fs) < 1 and fs != 0:
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


def explain_stop(result: RunResult, settle_iteration: int | None = None) -> StopExplanation:
    """Classify why a run ended as it did, with the numbers that show it.

    ``settle_iteration``: the iteration from which its animation's fit no longer moves visibly, if it settles.
    """
    t, a, p = result.trajectory, result.analysis, result.spec.params
    finite = [v for v in t.loss.tolist() if math.isfinite(v)]
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
    if case == StopCase.UNSTABLE:
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
        lowest_loss=min(finite) if finite else None,
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
    )


# --------------------------------------------------------------------------- the theory table


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
    for r in results:
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
    return SharedData(a.hessian_eigenvalues[0], a.hessian_eigenvalues[1], a.condition_number, a.lr_max)


# --------------------------------------------------------------------------- general sentences, per sweep


@dataclass(frozen=True)
class Trend:
    """How the stop counts move as one parameter grows, the others fixed."""

    varied: str  # the parameter that grows
    fixed: str  # the other varied values, as a label ("" for a 1-D sweep)
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    direction: str  # "falls", "rises" or "mixed"
    decides: tuple[Mode | None, ...]  # which mode set each count
    factor_fast: float  # 1 - lr lambda_max of the group (the slope changes neither lr nor x)
    excess_slow: tuple[float, ...]  # the starting loss each mode carries, run by run
    excess_fast: tuple[float, ...]

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
        direction = ("falls" if all(b < a for a, b in pairs) else
                     "rises" if all(b >= a for a, b in pairs) and counts[-1] > counts[0] else "mixed")
        modes = [modes_of(r) for r in runs]
        trends.append(Trend("slope", run_label(dict(others)), tuple(run_label({"slope": r.spec.params.slope}) for r in runs),
                            counts, direction, tuple(m.decides for m in modes), modes[0].factor_fast,
                            tuple(m.excess_slow for m in modes), tuple(m.excess_fast for m in modes)))
    return trends


@dataclass(frozen=True)
class LrProducts:
    """Runs that differ only in lr, where the slow mode sets the count: iterations x lr is about constant."""

    fixed: str  # what they share, as a label
    lrs: tuple[float, ...]
    counts: tuple[int, ...]
    products: tuple[float, ...]
    predicted: float  # ln(excess_slow / margin) / (2 lambda_min): the product the closed form gives


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
class SweepFindings:
    """What a sweep shows, in numbers: its trends and its unstable runs."""

    name: str
    trends: tuple[Trend, ...]
    unstable: tuple[tuple[str, str], ...]  # (label, run id) of each diverged run
    shared: SharedData | None  # when every run shares the same data


def sweep_findings(name: str, results: Sequence[RunResult]) -> SweepFindings:
    """Summarise one sweep's runs."""
    return SweepFindings(
        name=name, trends=tuple(slope_trends(results)),
        unstable=tuple((run_label(r.spec.varied), r.id) for r in results if r.trajectory.status == Status.DIVERGED),
        shared=shared_data(results),
    )


# --------------------------------------------------------------------------- one worked closed form


@dataclass(frozen=True)
class ClosedForm:
    """The closed form worked through on one run, with the count it predicts for each threshold of the build."""

    run_id: str
    label: str
    lr: float
    loss_floor: float
    modes: Modes
    estimates: tuple[tuple[float, float | None, int | None], ...]  # (threshold, tau*ln(excess/margin), measured)


def closed_form(results: Sequence[RunResult], prefer: dict) -> ClosedForm | None:
    """Work the closed form on the run whose parameters are ``prefer`` (the course's), or the first stopped one."""
    stopped = [r for r in results if r.trajectory.status == Status.STOPPED and r.trajectory.stop_iteration]
    if not stopped:
        return None
    run = next((r for r in stopped if r.spec.params.to_dict() == prefer), stopped[0])
    m, p = modes_of(run), run.spec.params
    # Every run that differs from it only in threshold: the estimate against what it did.
    same = {k: v for k, v in p.to_dict().items() if k != "threshold"}
    siblings = sorted({r.spec.params.threshold: r for r in results
                       if {k: v for k, v in r.spec.params.to_dict().items() if k != "threshold"} == same}.items(),
                      reverse=True)
    estimates = []
    for threshold, r in siblings:
        margin = threshold - run.analysis.loss_floor
        estimate = m.tau * math.log(m.excess_slow / margin) if m.tau and margin > 0 and m.excess_slow > margin else None
        if margin > 0 and m.excess_slow <= margin:
            estimate = 0.0
        estimates.append((threshold, estimate, r.trajectory.stop_iteration))
    return ClosedForm(run.id, run_label(run.spec.varied), p.lr, run.analysis.loss_floor, m, tuple(estimates))


# --------------------------------------------------------------------------- the student's question


@dataclass(frozen=True)
class StudentAnswer:
    """Why a run whose threshold is below the floor never stopped, and what the course's window showed of it."""

    run_id: str
    threshold: float
    max_iters: int
    loss_floor: float
    noise: float
    floor_per_noise2: float | None  # the floor is this times noise**2 (the same draws, scaled)
    expected_floor: float  # E[floor] = 0.5 noise^2 (n - 2) / n
    reachable_noise: float | None  # below this noise the threshold is above the floor
    w_star: float
    b_star: float
    slope: float
    intercept: float
    window: CourseWindow
    settle_pixel: int | None  # drawn frames of the course's window differ by < 1 px from here on
    settle_2px: int | None  # drawn lines are within 2 px of the last drawn one from here on
    last_drawn: int
    at_settle: tuple[float, float, float] | None  # (w, b, loss) the window showed at settle_2px: its title
    # prints w and b after that iteration's update, its line and loss text are from before it
    b_at_settle: float | None  # b when the window stopped changing visibly, and at the end
    b_final: float
    lowest_loss: float


def student_answer(result: RunResult, window: CourseWindow = COURSE_WINDOW) -> StudentAnswer:
    """Answer "why did it stop around 580?" from one below-the-floor run's own numbers."""
    t, a, p = result.trajectory, result.analysis, result.spec.params
    n = p.n_points
    drawn = window.drawn(t.iterations_run)
    pixels = window.line_pixels(result.data.x, t.w[drawn], t.b[drawn])
    settle_pixel = _first_of_tail(drawn[1:], (abs(pixels[1:] - pixels[:-1]).max(axis=1) < 1).tolist())
    settle_2px = _first_of_tail(drawn, (abs(pixels - pixels[-1]).max(axis=1) <= 2).tolist())
    at = None
    if settle_2px is not None:
        after = settle_2px + 1
        w_shown = float(t.w[after]) if after < len(t.w) else t.updated_w
        b_shown = float(t.b[after]) if after < len(t.b) else t.updated_b
        at = (w_shown, b_shown, float(t.loss[settle_2px]))
    return StudentAnswer(
        run_id=result.id, threshold=p.threshold, max_iters=p.max_iters, loss_floor=a.loss_floor, noise=p.noise,
        floor_per_noise2=a.loss_floor / p.noise**2 if p.noise > 0 else None,
        expected_floor=0.5 * p.noise**2 * (n - 2) / n,
        reachable_noise=p.noise * math.sqrt(p.threshold / a.loss_floor) if a.loss_floor > 0 and p.threshold > 0 else None,
        w_star=a.w_star, b_star=a.b_star, slope=p.slope, intercept=p.intercept, window=window,
        settle_pixel=settle_pixel, settle_2px=settle_2px, last_drawn=drawn[-1], at_settle=at,
        b_at_settle=float(t.b[settle_pixel]) if settle_pixel is not None else None,
        b_final=float(t.b[-1]), lowest_loss=float(min(t.loss)),
    )


def _first_of_tail(iterations: Sequence[int], holds: Sequence[bool]) -> int | None:
    """Return the first iteration from which ``holds`` stays true to the end, or None if the last one fails."""
    k = len(holds)
    while k > 0 and holds[k - 1]:
        k -= 1
    return iterations[k] if k < len(holds) else None


def student_run(results: Sequence[RunResult], prefer: dict) -> RunResult | None:
    """Return the run the student's question is about: below its floor, the course's own if the build has it."""
    below = [r for r in results if r.trajectory.status == Status.BUDGET_EXHAUSTED
             and r.spec.params.threshold <= r.analysis.loss_floor]
    same = [r for r in below if {k: v for k, v in r.spec.params.to_dict().items() if k != "threshold"}
            == {k: v for k, v in prefer.items() if k != "threshold"}]
    return (same or below or [None])[0]



# --------------------------------------------------------------------------- the page-level explanations


@dataclass(frozen=True)
class Theory:
    """What the page explains beyond single runs, computed once for every language."""

    worked: ClosedForm | None  # the closed form, worked on the course's run
    products: LrProducts | None  # iterations x lr, for runs that differ only in lr
    student: StudentAnswer | None  # the student's question, when the build has a run below its floor


def theory_of(results: Sequence[RunResult], course: dict) -> Theory:
    """Work out the page-level explanations; ``course`` is the course's own parameters (the config's defaults)."""
    asked = student_run(results, course)
    return Theory(closed_form(results, course), lr_products(results, course),
                  student_answer(asked) if asked is not None else None)
