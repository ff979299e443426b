"""Expand each sweep of a config into the runs of its grid."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from reportgen.config.schema import ANIMATE_LIMIT, Config, Params, Sweep
from reportgen.core.formatting import param
from reportgen.infra.errors import ConfigError


@dataclass(frozen=True)
class RunSpec:
    """One training run: where it comes from and every parameter it uses."""

    id: str
    sweep: str
    params: Params
    varied: dict[str, Any]
    animate: bool = True


def run_id(sweep: str, varied: dict[str, Any]) -> str:
    """Return the stable, URL-safe id of a run, e.g. ``slope__slope-5``."""
    parts = [f"{key}-{param(value)}" for key, value in varied.items()]
    return "__".join([sweep, *parts])


def grid_size(config: Config) -> int:
    """How many runs the config's grid has, from the lengths of its lists alone (nothing is built)."""
    return sum(math.prod(len(values) for values in sweep.vary.values()) for sweep in config.sweeps)


def expand_grid(config: Config) -> list[RunSpec]:
    """Return every run of every sweep, in config order (Cartesian product per sweep)."""
    runs: list[RunSpec] = []
    seen: dict[str, str] = {}
    problems = []
    for index, sweep in enumerate(config.sweeps):
        keys = list(sweep.vary)
        grid = [dict(zip(keys, values)) for values in itertools.product(*(sweep.vary[k] for k in keys))]
        chosen, missing = animated_runs(sweep, grid)
        problems += [f"{config.source}: sweep[{index}].animate: {m}" for m in missing]
        for i, values in enumerate(grid):
            varied = {k: values[k] for k in sweep.dimensions}
            spec = RunSpec(
                id=run_id(sweep.name, varied),
                sweep=sweep.name,
                params=config.defaults.replace(**values),
                varied=varied,
                animate=i in chosen,
            )
            if spec.id in seen:
                problems.append(f"{config.source}: sweep '{sweep.name}': run id '{spec.id}' collides with another run")
                continue
            seen[spec.id] = sweep.name
            runs.append(spec)
    if problems:
        raise ConfigError(*problems)
    return runs


def animated_runs(sweep: Sweep, grid: list[dict[str, Any]]) -> tuple[set[int], list[str]]:
    """Return the indexes of the runs to animate, and the picks that match no run."""
    mode = sweep.animate
    if mode == "auto":
        mode = "all" if len(grid) <= ANIMATE_LIMIT else "corners"
    if mode == "all":
        return set(range(len(grid))), []
    if mode == "none":
        return set(), []
    if mode == "corners":
        ends = {k: {v[0], v[-1]} for k, v in sweep.vary.items()}
        return {i for i, g in enumerate(grid) if all(g[k] in ends[k] for k in g)}, []
    chosen, missing = set(), []
    ids = [run_id(sweep.name, {k: g[k] for k in sweep.dimensions}) for g in grid]
    for pick in mode:
        if isinstance(pick, str):
            hits = [i for i, rid in enumerate(ids) if rid == pick]
        else:
            hits = [i for i, g in enumerate(grid) if all(g.get(k) == v for k, v in pick.items())]
        if not hits:
            missing.append(f"{pick!r} matches no run of sweep '{sweep.name}'")
        chosen.update(hits)
    return chosen, missing
