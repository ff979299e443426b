"""results.json: every run as the file stores it, and the page-level explanations (written beside the site)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reportgen.config.schema import Config
from reportgen.core.sampling import evenly_spaced
from reportgen.media.render import RunMedia
from reportgen.teach.stops import StopExplanation
from reportgen.teach.theory import Theory
from reportgen.train.course import last_title
from reportgen.train.run import RunResult

SCHEMA = 4  # 2: final is one state (w, b and loss of the last iteration); after_last_update added
# 3: a long run's loss_history may be thinned (loss_history_iterations says where from)
# 4: printed, the course's window's last title
MEDIA_FORMATS = ("gif", "mp4", "poster", "filmstrip")
HISTORY_NOTE = ("loss_history holds the loss of every iteration, except in runs of more than max_points iterations: "
                "those keep max_points evenly spaced values, the first and last included, taken at the iterations "
                "that loss_history_iterations lists (null when a history is whole).")


def run_json(result: RunResult, media: RunMedia | None = None, stop: StopExplanation | None = None,
             history_points: int | None = None) -> dict[str, Any]:
    """Return a run as results.json stores it, with its animation's facts when it has one.

    ``history_points``: keep at most this many values of the loss history (all when None).
    """
    t, a, title = result.trajectory, result.analysis, last_title(result.trajectory)
    kept = history_indices(len(t.loss), history_points)
    out: dict[str, Any] = {
        "id": result.spec.id,
        "sweep": result.spec.sweep,
        "varied": result.spec.varied,
        "params": result.spec.params.to_dict(),
        "status": t.status,
        "stop_iteration": t.stop_iteration,
        "iterations_run": t.iterations_run,
        "updates": t.updates,
        "diverged_at": t.diverged_at,
        # One state: iteration t, the w and b its forward pass used, and the loss there. The course's
        # variables hold one more update (withheld for a diverged run): "after_last_update".
        "final": {"iteration": t.last, "w": f32(t.final_w), "b": f32(t.final_b), "loss": f32(t.final_loss)},
        "after_last_update": {"w": f32(t.updated_w), "b": f32(t.updated_b)},
        # What the course's window title printed last (null for a diverged run): a student's copy.
        "printed": None if title is None else {"iteration": title.iteration, "w": f32(title.w), "b": f32(title.b)},
        "initial": {"w": f32(result.data.w0), "b": 0.0, "loss": f32(t.initial_loss)},
        "loss_floor": f64(a.loss_floor),
        "w_star": f64(a.w_star),
        "b_star": f64(a.b_star),
        "hessian": [[f64(v) for v in row] for row in a.hessian],
        "hessian_eigenvalues": [f64(v) for v in a.hessian_eigenvalues],
        "condition_number": f64(a.condition_number),
        "lr_max": f64(a.lr_max),
        "factors": [f64(v) for v in a.factors],
        "initial_excess": [f64(v) for v in a.initial_excess],
        "predicted_stop_iteration": a.predicted_stop_iteration,
        "loss_history": [f32(v) for v in (t.loss if kept is None else t.loss[kept]).tolist()],
        "loss_history_iterations": None if kept is None else kept.tolist(),
        # A minibatch run's loss over all its points at the same iterations (loss_history is its batches').
        "full_loss_history": [f32(v) for v in (t.full_loss if kept is None else t.full_loss[kept]).tolist()]
        if len(t.full_loss) else None,
    }
    out["frames"] = media.frames if media else None
    out["fps"] = media.fps if media else None
    # The iterations print shows for this run, side by side in its filmstrip (media.filmstrip).
    out["filmstrip_iterations"] = list(media.filmstrip.iterations) if media and media.filmstrip else None
    out["settle_iteration"] = stop.settle_iteration if stop else None
    if stop is not None:
        m = stop.modes
        out["explanation"] = {
            "case": str(stop.case), "lowest_loss": f32(stop.lowest_loss) if stop.lowest_loss is not None else None,
            "growth_per_step": f64(stop.growth) if stop.growth is not None else None,
            "course_loss_at_end": f64(stop.course_loss) if stop.course_loss is not None else None,
            "modes": {"factor_slow": f64(m.factor_slow), "factor_fast": f64(m.factor_fast),
                      "excess_slow": f64(m.excess_slow), "excess_fast": f64(m.excess_fast),
                      "alone_slow": _maybe(m.alone_slow), "alone_fast": _maybe(m.alone_fast),
                      "decides": str(m.decides) if m.decides else None, "knee": m.knee, "tau": _maybe(m.tau)},
        }
    out["media"] = {fmt: media.url(result.id, fmt) if media else None for fmt in MEDIA_FORMATS}
    # Its drawing for a phone held upright, which the page plays below layout.PHONE_MAX_REM ([render] phone).
    phone = media.phone if media else None
    out["media"]["phone"] = {fmt: phone.url(result.id, fmt) for fmt in ("mp4", "poster")} if phone else None
    return out


def _maybe(value: float | None) -> float | None:
    return None if value is None else f64(value)


def f32(value: float) -> float | None:
    """Return a float32 value with the 9 digits that round-trip it; None if not finite."""
    value = float(value)
    return float(f"{value:.9g}") if math.isfinite(value) else None


def f64(value: float) -> float | None:
    """Return a float64 value, None if not finite (JSON has no inf or NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def history_indices(length: int, max_points: int | None) -> np.ndarray | None:
    """Return which of ``length`` loss values to keep: None for all, else max_points evenly spaced, both ends included."""
    if max_points is None or length <= max_points:
        return None
    return evenly_spaced(length, max_points)


def results_document(config: Config, results: Sequence[RunResult], media: Mapping[str, RunMedia],
                     stops: Mapping[str, StopExplanation], theory: Theory | None = None) -> dict[str, Any]:
    """Return the whole results.json document.

    ``media``: the animations by run id; ``stops``: why each run ended; ``theory``: the page-level explanations,
    whose every number the page states. A run keeps at most ``[limits] history_points`` loss values, fewer in a
    grid so big that they would pass ``history_total`` together.
    """
    points = config.limits.history_per_run(len(results))
    runs = [run_json(r, media.get(r.id), stops.get(r.id), points) for r in results]
    thinned = sum(run["loss_history_iterations"] is not None for run in runs)
    history = {"max_points": points, "thinned_runs": thinned, "note": HISTORY_NOTE}
    document = {"schema": SCHEMA, "config": config.to_dict(), "history": history, "runs": runs}
    if theory is not None:
        document["explanations"] = plain(theory)
    return document


def plain(value: Any) -> Any:
    """Return frozen dataclasses as JSON-able data: dicts, lists, numbers (non-finite ones as None), strings."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return f64(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def write_json(path: Path, text: str) -> None:
    """Write results.json, as :func:`json_text` made it (once per build: 10,000 runs take a second to encode)."""
    path.write_text(text, "utf-8")


def json_text(document: dict[str, Any]) -> str:
    """Return JSON, deterministic (sorted keys, no NaN) and compact: the C encoder only runs without indent."""
    return json.dumps(document, sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"
