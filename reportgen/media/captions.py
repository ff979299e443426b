"""What a run's animation says in words: WebVTT captions and the table of its key iterations.

Both are made from the run's numbers and the animation's :class:`~reportgen.media.plan.FramePlan`
(frame k of the MP4 shows iteration ``plan.iterations[k]`` from second ``k / fps``), in the
page's language. A caption says where the run is about every tenth of it, and what happens
at its events: the stop, the moment the line stops moving visibly, the divergence, the end
of the budget. The same rows, as a table, are the animation's text alternative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reportgen.core.formatting import num, param, power_of_ten
from reportgen.core.i18n import Translations
from reportgen.media.plan import FramePlan
from reportgen.teach.stops import StopExplanation
from reportgen.train.run import DIVERGENCE_FACTOR, RunResult, Status

#: About how many plain captions a run gets, evenly spaced; its events come on top.
TICKS = 10


@dataclass(frozen=True)
class KeyIteration:
    """One state worth telling: iteration t, its w, b and loss, and what happens there (if anything)."""

    t: int
    w: float
    b: float
    loss: float
    text: str  # what the caption says
    event: bool  # a stop, a divergence, the end of the budget or the line settling; else a plain tick


@dataclass(frozen=True)
class Cue:
    """One caption: its text from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Captions:
    """A run's key iterations, in order, and when the video reaches each."""

    rows: tuple[KeyIteration, ...]
    cues: tuple[Cue, ...]

    def webvtt(self) -> str:
        """Return the captions as a WebVTT file."""
        blocks = [f"{timestamp(c.start)} --> {timestamp(c.end)}\n{vtt_text(c.text)}" for c in self.cues]
        return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def run_captions(result: RunResult, frame_plan: FramePlan, stop: StopExplanation, tr: Translations) -> Captions:
    """Tell a run's animation (as ``frame_plan`` plays it) in words, in the language of ``tr``."""
    frames = frame_plan.iterations
    t = result.trajectory
    last = t.last

    def state(i: int, text: str, event: bool = True) -> KeyIteration:
        return KeyIteration(i, float(t.w[i]), float(t.b[i]), float(t.loss[i]), text, event)

    def tick(i: int) -> KeyIteration:
        text = tr.gettext("iteration %(t)s: loss %(loss)s, w = %(w)s, b = %(b)s") % {
            "t": i, "loss": num(t.loss[i]), "w": num(t.w[i]), "b": num(t.b[i])}
        return state(i, text, event=False)

    events = []
    settle = stop.settle_iteration
    if settle is not None and 0 < settle < last:
        events.append(state(settle, tr.gettext("from iteration %(t)s the line no longer moves visibly") % {"t": settle}))
    events.append(state(last, ending(result, tr)))

    event_frames = {frame_of(frames, e.t) for e in events}
    spacing = max((len(frames) - 1) / TICKS, 1.0)
    ticks = []
    for k in sorted({round(j * spacing) for j in range(TICKS + 1) if round(j * spacing) < len(frames)}):
        # A plain caption too close before an event would flash by: the event says more.
        if all(not 0 <= e - k < spacing / 2 for e in event_frames):
            ticks.append(tick(frames[k]))
    rows = sorted([*ticks, *events], key=lambda r: (frame_of(frames, r.t), not r.event))
    starts = [frame_of(frames, r.t) / frame_plan.fps for r in rows]
    end = (len(frames) + frame_plan.hold) / frame_plan.fps
    cues = tuple(Cue(s, e, r.text) for s, e, r in zip(starts, [*starts[1:], end], rows) if e > s)
    return Captions(rows=tuple(rows), cues=cues)


def ending(result: RunResult, tr: Translations) -> str:
    """Say how a run ends, at its last iteration."""
    t, p = result.trajectory, result.spec.params
    values = {"t": t.last, "loss": num(t.final_loss), "threshold": param(p.threshold), "budget": p.max_iters,
              "factor": power_of_ten(DIVERGENCE_FACTOR)}
    if t.status == Status.STOPPED:
        return tr.gettext("iteration %(t)s: loss %(loss)s < %(threshold)s, the run stops") % values
    if t.status == Status.DIVERGED and not math.isfinite(t.final_loss):
        return tr.gettext("iteration %(t)s: the loss overflowed, diverged") % values
    if t.status == Status.DIVERGED:
        return tr.gettext("iteration %(t)s: loss passed %(factor)s × its start, diverged") % values
    return tr.gettext("iteration %(t)s: the budget of %(budget)s iterations is used up, the run ends") % values


def frame_of(frames: tuple[int, ...], iteration: int) -> int:
    """Return the first frame that shows ``iteration`` or a later one."""
    return next((k for k, i in enumerate(frames) if i >= iteration), len(frames) - 1)


def timestamp(seconds: float) -> str:
    """Write seconds as a WebVTT timestamp, HH:MM:SS.mmm."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def vtt_text(text: str) -> str:
    """Escape a caption's text for WebVTT, where < starts a tag and & an entity."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
