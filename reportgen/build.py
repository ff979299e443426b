"""Perform a full site build: config -> grid -> training -> analysis -> site."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from . import output
from .analysis import analyse
from .config import Config, load_config
from .grid import expand_grid
from .progress import Progress
from .results import RunResult, results_document, write_json
from .site import write_pages
from .train import draw_data, train_grid

log = logging.getLogger("reportgen")

DEFAULT_OUT = Path("outputs/site")


@dataclass(frozen=True)
class BuildOptions:
    """What the command line asked for."""

    config_path: Path | None = None
    out: Path = DEFAULT_OUT
    jobs: int | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class BuildReport:
    """What a build produced."""

    out: Path
    index: Path
    results: list[RunResult]


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Perform a full site build and return where it went."""
    progress = progress or Progress(quiet=True)
    config = load_config(options.config_path)
    specs = expand_grid(config)
    protected = [Path.cwd() / "pyproject.toml", Path(__file__).resolve().parent]
    if options.config_path is not None:
        protected.append(Path(options.config_path))
    output.check_output_dir(options.out, protected)

    data = draw_data(specs)
    max_iters = max(s.params.max_iters for s in specs)
    with progress.stage(f"training {len(specs)} runs together", total=max_iters) as advance:
        trajectories = train_grid(specs, data, progress=advance)
    with progress.stage("analysing runs"):
        results = [
            RunResult(spec=s, data=d, trajectory=t, analysis=analyse(d, s.params))
            for s, d, t in zip(specs, data, trajectories)
        ]

    with output.staged_output(options.out) as stage:
        write_json(stage / "results.json", results_document(config, results))
        with progress.stage("writing pages"):
            write_pages(stage, config, results, context={})
    out = options.out.resolve()
    return BuildReport(out=out, index=out / "index.html", results=results)
