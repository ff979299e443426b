"""Expand each sweep of a config into the runs of its grid."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .config import Config, Params, format_value
from .exceptions import ConfigError


@dataclass(frozen=True)
class RunSpec:
    """One training run: where it comes from and every parameter it uses."""

    id: str
    sweep: str
    params: Params
    varied: dict[str, Any]


def run_id(sweep: str, varied: dict[str, Any]) -> str:
    """Return the stable, URL-safe id of a run, e.g. ``slope__slope-5``."""
    parts = [f"{key}-{format_value(value)}" for key, value in varied.items()]
    return "__".join([sweep, *parts])


def expand_grid(config: Config) -> list[RunSpec]:
    """Return every run of every sweep, in config order (Cartesian product per sweep)."""
    runs: list[RunSpec] = []
    seen: dict[str, str] = {}
    collisions = []
    for sweep in config.sweeps:
        keys = list(sweep.vary)
        for values in itertools.product(*(sweep.vary[k] for k in keys)):
            varied = dict(zip(keys, values))
            spec = RunSpec(
                id=run_id(sweep.name, varied),
                sweep=sweep.name,
                params=config.defaults.replace(**varied),
                varied=varied,
            )
            if spec.id in seen:
                collisions.append(f"{config.source}: sweep '{sweep.name}': run id '{spec.id}' collides with another run")
                continue
            seen[spec.id] = sweep.name
            runs.append(spec)
    if collisions:
        raise ConfigError(*collisions)
    return runs


def check_frame_budget(config: Config, runs: list[RunSpec]) -> None:
    """Refuse a grid whose animations could need more frames than ``[render] max_frames``."""
    render = config.render
    if not render.formats or not runs:
        return  # training only: any size
    per_run = [-(-r.params.max_iters // render.frame_every) + 1 for r in runs]
    total = sum(per_run)
    if total > render.max_frames:
        raise ConfigError(
            f"{config.source}: render.max_frames: animating {len(runs):,} runs needs up to {total:,} frames, "
            f"over the budget of {render.max_frames:,}; raise [render] max_frames, raise frame_every, "
            "or set formats = [] to train without animations"
        )
