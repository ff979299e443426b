"""What a run's animation shows, as plain data: no matplotlib, so a cached build never loads it.

A :class:`FrameJob` travels to a render worker; the frame's words are translated
before they leave, so a worker needs no catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .fonts import needs_cjk
from .i18n import N_, Translations
from .trajectory import Status

#: Frame size in inches; times the dpi of [render] it gives the pixels (800 x 360 at 80 dpi).
FIGSIZE = (10.0, 4.5)
#: How long the final frame is held, in seconds.
FINAL_HOLD = 1.0


@dataclass(frozen=True)
class FrameLabels:
    """The words of a frame, translated before they travel to a worker (plain strings only)."""

    data: str = N_("data")
    true_line: str = N_("true line y = %(slope)sx + %(intercept)s")
    fit: str = N_("fit y = wx + b")
    iteration: str = N_("iteration")
    loss_axis: str = N_("loss (log scale)")
    threshold: str = N_("stop threshold %(threshold)s")
    threshold_off_axis: str = N_("stop threshold %(threshold)s (not on a log axis)")
    floor: str = N_("loss floor %(floor)s")
    loss: str = N_("loss")
    diverged: str = N_("diverged at iteration %(iteration)s")
    heading: str = N_("iteration %(t)s   w = %(w)s   b = %(b)s   loss = %(loss)s")
    overflow: str = N_("overflow")

    def texts(self) -> tuple[str, ...]:
        """Return every label, for choosing the fonts that can draw them."""
        return tuple(getattr(self, f.name) for f in fields(self))


def frame_labels(tr: Translations) -> FrameLabels:
    """Return the frame labels in the language of ``tr``."""
    return FrameLabels(**{f.name: tr.gettext(f.default) for f in fields(FrameLabels)})


@dataclass(frozen=True)
class FrameJob:
    """Everything needed to draw one run's frames (plain data, no torch)."""

    run_id: str
    title: str
    x: np.ndarray
    y: np.ndarray
    slope: float
    intercept: float
    threshold: float
    loss_floor: float
    status: Status
    diverged_at: int | None
    loss: np.ndarray  # per iteration run
    w: np.ndarray
    b: np.ndarray
    frame_every: int
    labels: FrameLabels = field(default_factory=FrameLabels)

    @property
    def iterations(self) -> list[int]:
        """Iterations drawn: 0, every frame_every-th, and always the final one."""
        return frame_iterations(len(self.loss), self.frame_every)

    @property
    def needs_cjk(self) -> bool:
        """True when the frame's words (labels or the config's title) need a CJK font."""
        return needs_cjk((self.title, *self.labels.texts()))


def frame_iterations(iterations_run: int, frame_every: int) -> list[int]:
    """Return 0, every ``frame_every``-th iteration, and the last iteration run."""
    drawn = list(range(0, iterations_run, frame_every))
    if drawn[-1] != iterations_run - 1:
        drawn.append(iterations_run - 1)
    return drawn
