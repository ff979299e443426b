"""Where things sit in a frame: the wide drawing of every animation, and its portrait drawing for phones.

Both show the same state the same way (the data and the fit, the loss surface, the loss curve); only the
places and the type size differ. Sizes are in inches and points, so the pixels follow the ``[render]`` dpi:
at 100 dpi the wide frame is 800 x 680 and the phone frame 480 x 820.

The wide frame is shown at its own width on a laptop (800 CSS px: its smallest text 20 px) and edge to edge
on a phone, where it would shrink to 9 px; below ``layout.PHONE_MAX_REM`` the page plays the phone drawing
instead: the three views stacked, its type sized so that at 375 CSS px its smallest text is 12 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Panel:
    """Where a view sits in the frame, in fractions of the figure (matplotlib's [left, bottom, width, height])."""

    left: float
    bottom: float
    width: float
    height: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.left, self.bottom, self.width, self.height)


#: The state of the frame: the iteration and exactly the w, b and loss its forward pass used. Symbols and
#: numbers only, the same in every language (L(w, b) is the loss at those w and b).
STATE = "t = %(t)s    w = %(w)s    b = %(b)s    L(w, b) = %(loss)s"


@dataclass(frozen=True)
class FrameLayout:
    """One drawing of an animation: the frame's size, its type, its three views and its lines of state."""

    name: str  # "wide" or "phone": part of the media's cache key and of its file names
    figsize: tuple[float, float]  # inches
    font_pt: float  # every text of the frame, ticks included
    note_pt: float  # the one smaller text: "no stop contour" above the surface view
    fit: Panel
    surface: Panel
    loss: Panel
    state: tuple[tuple[str, float], ...]  # (line, where its top sits in fractions of the height from the bottom)
    title_wrap: bool = False  # a long heading breaks at the frame's edge

    def pixels(self, dpi: int) -> tuple[int, int]:
        """Return the frame's (width, height) in pixels at ``dpi``: even numbers, as H.264's 4:2:0 needs."""
        width, height = (2 * round(inches * dpi / 2) for inches in self.figsize)
        return width, height

    def inches(self, dpi: int) -> tuple[float, float]:
        """Return the figure size that makes :meth:`pixels` at ``dpi`` (matplotlib truncates to whole pixels)."""
        if tuple(int(inches * dpi) for inches in self.figsize) == self.pixels(dpi):
            return self.figsize
        width, height = ((px + 0.5) / dpi for px in self.pixels(dpi))
        return width, height

    def smallest_px(self, dpi: int) -> float:
        """Return the height of the frame's smallest text in pixels at ``dpi`` (a state line shrinks only in a
        frame too narrow for it, below the dpi any layout is read at)."""
        return min(self.font_pt, self.note_pt) * dpi / 72


#: For a laptop's column: the fit and the surface side by side, the loss curve below both.
WIDE_FRAME = FrameLayout(
    name="wide", figsize=(8.0, 6.8), font_pt=14.5, note_pt=14.5 * 0.833,  # matplotlib's "small"
    fit=Panel(0.115, 0.43, 0.355, 0.40), surface=Panel(0.625, 0.43, 0.355, 0.40), loss=Panel(0.115, 0.09, 0.865, 0.21),
    state=((STATE, 0.915),),
)
#: For a phone held upright: the three views stacked, and the state in two lines that fit its width.
PHONE_FRAME = FrameLayout(
    name="phone", figsize=(4.8, 8.2), font_pt=11.5, note_pt=11.5,
    # Between the fit and the surface: the fit's ticks and x, and the surface's one note ("no stop contour").
    fit=Panel(0.16, 0.62, 0.80, 0.225), surface=Panel(0.16, 0.30, 0.80, 0.225), loss=Panel(0.16, 0.065, 0.80, 0.16),
    state=(("t = %(t)s    L(w, b) = %(loss)s", 0.925), ("w = %(w)s    b = %(b)s", 0.895)),
    title_wrap=True,
)
LAYOUTS = {layout.name: layout for layout in (WIDE_FRAME, PHONE_FRAME)}


def drawings(phone: bool, formats: Sequence[str]) -> tuple[FrameLayout, ...]:
    """Return the drawings a build makes of each animation: the wide one, and the phone one when ``[render] phone``
    asks for it and there is an MP4 to draw it into (a run of one iteration, a picture, gets the wide one only)."""
    return (WIDE_FRAME, PHONE_FRAME) if phone and "mp4" in formats else (WIDE_FRAME,)
