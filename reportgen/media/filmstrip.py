"""A run's filmstrip: key iterations of its animation side by side, in one image, for print.

A page printed on paper cannot play a video, so its print stylesheet shows this
image instead: the first iteration, a few between, and the last one run (the
stop, or the end of the budget). It is drawn by the animation's own renderer
(:meth:`~reportgen.media.frames.FrameRenderer.draw` after ``setup(job)``), right after
the run's frames, by the render worker that already holds the run: a few more
draws, no second set-up. It is a file of the run's media cache entry, under the
same content hash, and knows nothing of the frame's layout: it only tiles frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reportgen.core.sampling import evenly_spaced
from reportgen.media.encode import write_palette_png

#: How many iterations a filmstrip shows: the first, the last, and evenly spaced ones between.
FRAMES = 4
#: Frames per row of the strip: two keep each frame readable on a printed page.
COLUMNS = 2
#: White space between the frames, in pixels.
GAP = 8


@dataclass(frozen=True)
class Filmstrip:
    """What a run's filmstrip shows, and its size."""

    iterations: tuple[int, ...]
    width: int  # of the whole image, in pixels
    height: int


def key_iterations(iterations_run: int, frames: int = FRAMES) -> tuple[int, ...]:
    """Return the iterations a strip shows: 0, evenly spaced ones, and the last one run."""
    return tuple(evenly_spaced(max(iterations_run, 1), frames).tolist())


def compose(frames: Sequence[np.ndarray], columns: int = COLUMNS, gap: int = GAP) -> np.ndarray:
    """Lay RGB or RGBA frames of one size out in rows of ``columns``, left to right, with white gaps; return RGB."""
    h, w = frames[0].shape[:2]
    rows = -(-len(frames) // columns)
    cols = min(columns, len(frames))
    sheet = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, dtype=np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        sheet[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = frame[..., :3]
    return sheet


def write_filmstrip(path: Path, sheet: np.ndarray) -> None:
    """Write a strip as a 256-colour PNG (see encode.write_palette_png)."""
    write_palette_png(path, sheet)


def draw_filmstrip(renderer: Any, iterations_run: int) -> tuple[np.ndarray, Filmstrip]:
    """Draw the key iterations of the run ``renderer`` is set up for; return the image and what it shows."""
    iterations = key_iterations(iterations_run)
    sheet = compose([renderer.draw(t)[..., :3].copy() for t in iterations])
    return sheet, Filmstrip(iterations, int(sheet.shape[1]), int(sheet.shape[0]))
