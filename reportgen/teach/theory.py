"""The page-level explanations: the closed form worked on the course's run, and the student's question.

Both are computed once per build, from this build's runs, for every language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from reportgen.config.schema import Params
from reportgen.core.formatting import run_label
from reportgen.teach.stops import Modes, modes_of
from reportgen.teach.sweeps import LrProducts, lr_products
from reportgen.train.course import COURSE_WINDOW, CourseWindow, title_at
from reportgen.train.run import RunResult, Status


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


@dataclass(frozen=True)
class StudentAnswer:
    """Why a run whose threshold is below the floor never stopped, and what the course's window showed of it."""

    run_id: str
    threshold: float
    max_iters: int
    loss_floor: float
    noise: float
    n_points: int
    floor_per_noise2: float | None  # the floor is this times noise**2 (the same draws, scaled)
    expected_floor: float  # E[floor] = 0.5 noise^2 (n - 2) / n
    reachable_noise: float | None  # below this noise the threshold is above the floor
    w_star: float
    b_star: float
    slope: float
    intercept: float
    window: CourseWindow
    line_px: float  # how wide the window's red line is: what a line that moved less than that hides under
    settle_pixel: int | None  # drawn frames of the course's window differ by < 1 px from here on
    settle_2px: int | None  # drawn lines are within 2 px of the last drawn one from here on
    last_drawn: int
    at_settle: tuple[float, float, float] | None  # (w, b, loss) the window showed at settle_2px: its title
    # prints w and b after that iteration's update, its line and loss text are from before it
    b_at_settle: float | None  # b when the window stopped changing visibly, and at the end
    b_final: float
    lowest_loss: float
    excess_at_settle: float | None  # loss - floor at settle_2px: small, and still falling
    excess_at_end: float  # loss - floor at the last iteration

    @property
    def marked_iterations(self) -> tuple[int, ...]:
        """The window's lines worth drawing again: where they stop moving by a pixel, by two, and the last drawn."""
        return tuple(sorted({i for i in (self.settle_pixel, self.settle_2px, self.last_drawn) if i is not None}))


def student_answer(result: RunResult, window: CourseWindow = COURSE_WINDOW) -> StudentAnswer:
    """Answer the homework's "why does it stop where it stops?" from one below-the-floor run's own numbers."""
    t, a, p = result.trajectory, result.analysis, result.spec.params
    n = p.n_points
    drawn = window.drawn(t.iterations_run)
    pixels = window.line_pixels(result.data.x, t.w[drawn], t.b[drawn])
    settle_pixel = _first_of_tail(drawn[1:], (abs(pixels[1:] - pixels[:-1]).max(axis=1) < 1).tolist())
    settle_2px = _first_of_tail(drawn, (abs(pixels - pixels[-1]).max(axis=1) <= 2).tolist())
    at = None
    if settle_2px is not None:
        shown = title_at(t, settle_2px)
        at = (shown.w, shown.b, float(t.loss[settle_2px]))
    return StudentAnswer(
        run_id=result.id, threshold=p.threshold, max_iters=p.max_iters, loss_floor=a.loss_floor, noise=p.noise, n_points=n,
        floor_per_noise2=a.loss_floor / p.noise**2 if p.noise > 0 else None,
        expected_floor=0.5 * p.noise**2 * (n - 2) / n,
        reachable_noise=p.noise * math.sqrt(p.threshold / a.loss_floor) if a.loss_floor > 0 and p.threshold > 0 else None,
        w_star=a.w_star, b_star=a.b_star, slope=p.slope, intercept=p.intercept, window=window,
        line_px=window.line_px,
        settle_pixel=settle_pixel, settle_2px=settle_2px, last_drawn=drawn[-1], at_settle=at,
        b_at_settle=float(t.b[settle_pixel]) if settle_pixel is not None else None,
        b_final=float(t.b[-1]), lowest_loss=float(min(t.loss)),
        excess_at_settle=float(t.loss[settle_2px]) - a.loss_floor if settle_2px is not None else None,
        excess_at_end=float(t.loss[-1]) - a.loss_floor,
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


@dataclass(frozen=True)
class Theory:
    """What the page explains beyond single runs, computed once for every language."""

    worked: ClosedForm | None  # the closed form, worked on the course's run
    products: LrProducts | None  # iterations x lr, for runs that differ only in lr
    student: StudentAnswer | None  # the student's question, when the build has a run below its floor


def theory_of(results: Sequence[RunResult], course: Params) -> Theory:
    """Work out the page-level explanations; ``course`` is the course's own run (the config's ``[defaults]``)."""
    prefer = course.to_dict()
    asked = student_run(results, prefer)
    return Theory(closed_form(results, prefer), lr_products(results, prefer),
                  student_answer(asked) if asked is not None else None)
