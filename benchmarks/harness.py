"""What the benchmarks share: train a config through the library, and render runs into a fresh cache.

Only library functions are used, the ones a build calls; nothing comes from tests/.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from pathlib import Path

from reportgen.build import train_runs
from reportgen.config.grid import expand_grid
from reportgen.config.schema import Config
from reportgen.core.languages import DEFAULT
from reportgen.infra.cache import Cache
from reportgen.infra.progress import Progress
from reportgen.media.render import RenderTask, make_task, render_runs
from reportgen.train.run import RunResult


def trained(config: Config, root: Path) -> list[RunResult]:
    """Train every run of ``config`` as a build does (into a cache under ``root``)."""
    results, _ = train_runs(expand_grid(config), Cache(root / "train"), Progress(quiet=True))
    return results


def tasks(config: Config, results: list[RunResult], cache_root: Path) -> list[RenderTask]:
    """Describe the rendering of ``results`` in English, into a cache of their own."""
    return [make_task(config, r, config.render.formats, Cache(cache_root), DEFAULT) for r in results]


def render_fresh(config: Config, results: list[RunResult], cache_root: Path, jobs: int,
                 executor: Executor | None = None) -> tuple[float, int]:
    """Render ``results`` into an empty cache; return the seconds it took and the frames drawn."""
    todo = tasks(config, results, cache_root)
    start = time.perf_counter()
    outcomes = render_runs(todo, jobs, executor=executor)
    seconds = time.perf_counter() - start
    assert not any(o.cached for o in outcomes.values()), "the cache was not fresh"
    return seconds, sum(o.frames for o in outcomes.values())
