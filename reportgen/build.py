"""Perform a full site build: config -> grid -> training -> analysis -> frames -> site."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import output
from .cache import Cache, content_key
from .config import Config, load_config
from .grid import RunSpec, check_frame_budget, expand_grid
from .executors import make_executor
from .i18n import localize_config, resolve_languages, translations
from .progress import Progress
from .render import cached_outcomes, default_jobs, make_task, media_key, place_media, render_runs
from .results import RunResult, results_document, write_json
from .site import write_language_index, write_pages

log = logging.getLogger("reportgen")

DEFAULT_OUT = Path("outputs/site")
CACHE_DIR = ".reportgen-cache"


@dataclass(frozen=True)
class BuildOptions:
    """What the command line asked for."""

    config_path: Path | None = None
    out: Path = DEFAULT_OUT
    jobs: int | None = None
    use_cache: bool = True
    device: str = "cpu"
    executor: str = "local"
    scheduler: str | None = None
    lang: str | None = None  # "en", "zh-CN" or "all"; None: the config's ``lang``


@dataclass(frozen=True)
class BuildReport:
    """What a build produced, and what it had to compute."""

    out: Path
    index: Path
    results: list[RunResult]
    trained: bool
    rendered: int
    languages: tuple[str, ...] = ("en",)


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Perform a full site build and return where it went."""
    progress = progress or Progress(quiet=True)
    config = load_config(options.config_path)
    languages = resolve_languages(options.lang or config.lang)
    # The built-in config's titles are translated; a user's config is shown as written.
    localized = {lang: localize_config(config, translations(lang)) for lang in languages}
    specs = expand_grid(config)
    check_frame_budget(config, specs)
    protected = [Path.cwd() / "pyproject.toml", Path(__file__).resolve().parent]
    if options.config_path is not None:
        protected.append(Path(options.config_path))
    output.check_output_dir(options.out, protected)
    cache = Cache(options.out.resolve().parent / CACHE_DIR, enabled=options.use_cache)

    results, trained = train_runs(specs, cache, progress, options.device)
    formats = media_formats(config)
    animated = [r for r in results if r.spec.animate]
    # Training is shared; the frames are drawn once per language, since their words differ.
    keys = {(lang, r.id): media_key(localized[lang], r, formats, lang) for lang in languages for r in animated}
    outcomes = cached_outcomes(cache, list(keys.values()))
    missing = [make_task(localized[lang], r, formats, cache, lang)
               for lang in languages for r in animated if keys[(lang, r.id)] not in outcomes]
    if missing:
        cache.remove_stale()
        jobs = options.jobs or default_jobs()
        label = f"rendering {len(missing)} animations ({jobs} jobs, {options.executor})"
        # The executor starts only here: a fully cached build never starts a cluster.
        with make_executor(options.executor, jobs, options.scheduler) as executor:
            with progress.stage(label, total=len(missing), unit="run") as advance:
                outcomes.update(render_runs(missing, jobs, advance, executor))
    log.info("media: %d rendered, %d from the cache", len(missing), len(keys) - len(missing))

    evidence = graph_evidence(results, cache)

    with output.staged_output(options.out) as stage:
        first_json: Path | None = None
        for lang in languages:
            # One language fills the site; several each get a folder of their own, <out>/<lang>/.
            folder = stage if len(languages) == 1 else stage / lang
            folder.mkdir(exist_ok=True)
            for result in animated:
                outcome = outcomes[keys[(lang, result.id)]]
                result.frames = outcome.frames
                result.settle_iteration = outcome.settle_iteration
                result.media = place_media(folder, result.id, outcome)
            first_json = write_results(folder / "results.json", config, results, first_json)
            with progress.stage(f"writing pages ({lang})"):
                write_pages(folder, localized[lang], results, evidence, rebuild_command(options), lang, languages)
        if len(languages) > 1:
            write_language_index(stage, [(lang, localized[lang]) for lang in languages])
    out = options.out.resolve()
    return BuildReport(out=out, index=out / "index.html", results=results, trained=trained, rendered=len(missing),
                       languages=languages)


def write_results(path: Path, config: Config, results: Sequence[RunResult], same_as: Path | None) -> Path:
    """Write results.json; every language's copy is the same file (its media paths are relative), so link it."""
    if same_as is None:
        write_json(path, results_document(config, results))
        return path
    try:
        os.link(same_as, path)
    except OSError:
        shutil.copyfile(same_as, path)
    return same_as


def train_runs(
    specs: Sequence[RunSpec], cache: Cache, progress: Progress, device: str = "cpu"
) -> tuple[list[RunResult], bool]:
    """Train and analyse every run, or load them from the cache (then torch is never imported)."""
    key = content_key("train", [s.params.to_dict() for s in specs])
    stored = cache.load_object("train", key)
    if stored is not None and len(stored) == len(specs):
        log.info("training: %d runs from the cache", len(specs))
        return [RunResult(spec=s, data=d, trajectory=t, analysis=a) for s, (d, t, a) in zip(specs, stored)], False

    from .analysis import analyse
    from .train import draw_data, resolve_device, train_grid  # imports torch: only when something must train

    device = resolve_device(device)
    data = draw_data(specs)
    max_iters = max(s.params.max_iters for s in specs)
    with progress.stage(f"training {len(specs)} runs together on {device}", total=max_iters) as advance:
        trajectories = train_grid(specs, data, device=device, progress=advance)
    with progress.stage("analysing runs"):
        analyses = [analyse(d, s.params) for s, d in zip(specs, data)]
    cache.store_object("train", key, list(zip(data, trajectories, analyses)))
    return [RunResult(spec=s, data=d, trajectory=t, analysis=a) for s, d, t, a in zip(specs, data, trajectories, analyses)], True


def graph_evidence(results: Sequence[RunResult], cache: Cache):
    """Capture the computational-graph evidence from the first run's real data (cached)."""
    if not results:
        return None
    first = results[0]
    key = content_key("graphs", {"x": first.data.x.tolist(), "y": first.data.y.tolist(),
                                 "w0": first.data.w0, "lr": first.spec.params.lr})
    evidence = cache.load_object("graphs", key)
    if evidence is None:
        from .graphs import capture_graph_evidence  # imports torch

        evidence = capture_graph_evidence(first.data.x, first.data.y, first.data.w0, first.spec.params.lr)
        cache.store_object("graphs", key, evidence)
    return evidence


def rebuild_command(options: BuildOptions) -> str:
    """Return the command that rebuilds this site."""
    parts = ["reportgen build"]
    if options.config_path is not None:
        parts.append(f"--config {options.config_path}")
    if options.out != DEFAULT_OUT:
        parts.append(f"--out {options.out}")
    if options.lang is not None:
        parts.append(f"--lang {options.lang}")
    return " ".join(parts)


def media_formats(config: Config) -> tuple[str, ...]:
    """Return the formats to write; MP4 is dropped with one warning when ffmpeg is missing."""
    formats = config.render.formats
    if "mp4" in formats:
        from .encode import ffmpeg_exe

        if ffmpeg_exe() is None:
            log.warning("ffmpeg not found (imageio-ffmpeg); skipping MP4, writing the other formats")
            formats = tuple(f for f in formats if f != "mp4")
    return formats
