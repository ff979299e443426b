"""What a sweep's loss overlay draws of each run: decided once, for the drawing and for its caption.

A caption names only the marks its figure has: a sweep whose runs never stop shows no "●: where a run stopped".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from reportgen.teach.regimes import oscillation_bound
from reportgen.teach.stops import modes_of
from reportgen.train.run import RunResult, Status


def curve(result: RunResult) -> np.ndarray:
    """The loss the overlay draws: a minibatch run's over all its points (its batches' loss dips under the floor
    that no line passes), every other run's own loss."""
    t = result.trajectory
    return t.full_loss if len(t.full_loss) else t.loss


def knee(result: RunResult) -> int | None:
    """Where the slow mode starts to carry most of the excess, for a run that follows full-batch theory."""
    t = result.trajectory
    if t.status == Status.DIVERGED or len(t.full_loss):
        return None
    at = modes_of(result).knee
    return at if at is not None and at < len(t.loss) else None


def overlay_marks(results: Sequence[RunResult]) -> frozenset[str]:
    """The marks a sweep's overlay draws: "threshold", "stopped", "diverged", "knee", "minibatch", and what its
    caption says of them: "below floor" (a minibatch run's batch loss went under the floor)."""
    found = set()
    for r in results:
        found |= {"stopped"} if r.trajectory.status == Status.STOPPED else set()
        found |= {"diverged"} if r.trajectory.status == Status.DIVERGED else set()
        found |= {"threshold"} if r.spec.params.threshold > 0 else set()
        found |= {"minibatch"} if len(r.trajectory.full_loss) else set()
        found |= {"below floor"} if len(r.trajectory.full_loss) and np.nanmin(r.trajectory.loss) < \
            r.analysis.loss_floor else set()
        found |= {"knee"} if knee(r) is not None else set()
    return frozenset(found)


#: Theory's lines across a heatmap, each where one parameter equals a run's value of it: (its name, the parameter,
#: the value). The stability bound and the loss floor are dashed; the overshoot edge, on a regime map only, dotted.
HEATMAP_EDGES = (("bound", "lr", lambda r: r.analysis.lr_max),
                 ("floor", "threshold", lambda r: r.analysis.loss_floor),
                 ("overshoot", "lr", oscillation_bound))


def heatmap_marks(results: Sequence[RunResult], keys: Sequence[str]) -> frozenset[str]:
    """The marks a 2-D sweep's heatmap draws: "budget" and "diverged" cells, and "edge" where theory's line (the
    stability bound across lr, the loss floor across threshold) falls inside the grid's range of that parameter;
    "overshoot" where a regime map's line (the lr from which the steep direction overshoots) does."""
    found = {"budget" for r in results if r.trajectory.status == Status.BUDGET_EXHAUSTED}
    found |= {"diverged" for r in results if r.trajectory.status == Status.DIVERGED}
    for name, key, edge in HEATMAP_EDGES:
        values = [r.spec.varied[key] for r in results] if key in keys else []
        if len(set(values)) > 1 and any((e := edge(r)) is not None and min(values) <= e <= max(values)
                                        for r in results):
            found.add("overshoot" if name == "overshoot" else "edge")
    return frozenset(found)
