"""Render every run's animation, in parallel, once per content hash.

Each run becomes a :class:`RenderTask` of plain data. A worker process keeps one
:class:`~reportgen.frames.FrameRenderer` (one figure) for all the runs it draws;
every frame is drawn once and fed to every encoder. Finished media live in the
cache under the hash of what produced them, and the site links to them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .cache import Cache, content_key
from .config import Config, RenderSettings, format_value
from .i18n import DEFAULT_LANG, translations
from .results import RunResult

log = logging.getLogger("reportgen")

FILENAMES = {"gif": "animation.gif", "mp4": "animation.mp4", "poster": "poster.png"}


@dataclass(frozen=True)
class RenderTask:
    """One run to render: its frame job, its settings and where its cache entry goes."""

    key: str
    job: "FrameJob"  # noqa: F821 - imported lazily: matplotlib loads only where frames are drawn
    formats: tuple[str, ...]
    fps: int
    dpi: int
    cache_root: str


@dataclass(frozen=True)
class RenderOutcome:
    """What rendering (or the cache) produced for one run."""

    key: str
    frames: int
    settle_iteration: int | None
    files: dict[str, str]  # format -> absolute path in the cache
    cached: bool


# One figure per dpi per thread: a dask worker may run tasks on several threads.
_LOCAL = threading.local()


def render_task(task: RenderTask) -> RenderOutcome:
    """Draw one run's frames once, stream them to each encoder, and commit the cache entry."""
    from .encode import GifStream, Mp4Stream, write_poster
    from .frames import FINAL_HOLD, FrameRenderer

    renderers = _LOCAL.__dict__.setdefault("renderers", {})
    fonts = (task.dpi, task.job.needs_cjk)
    renderer = renderers.get(fonts)
    if renderer is None:
        renderer = renderers[fonts] = FrameRenderer(*fonts)
    cache = Cache(Path(task.cache_root))
    workdir = cache.new_entry(task.key)
    try:
        renderer.setup(task.job)
        streams: dict[str, object] = {}
        last = None
        count = 0
        for _, rgb in renderer.frames():
            if not streams:  # open encoders once the frame size is known
                if "gif" in task.formats:
                    streams["gif"] = GifStream(workdir / FILENAMES["gif"], task.fps, FINAL_HOLD)
                if "mp4" in task.formats:
                    size = (rgb.shape[1], rgb.shape[0])
                    streams["mp4"] = Mp4Stream(workdir / FILENAMES["mp4"], size, task.fps, FINAL_HOLD)
            for stream in streams.values():
                stream.add(rgb)
            last, count = rgb, count + 1
        for stream in streams.values():
            stream.close()
        if task.formats:
            write_poster(workdir / FILENAMES["poster"], last)
        meta = {"frames": count, "settle_iteration": renderer.settle_iteration(), "run_id": task.job.run_id}
        folder = cache.commit(task.key, workdir, meta)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return _outcome(task.key, folder, meta, cached=False)


def _outcome(key: str, folder: Path, meta: dict, cached: bool) -> RenderOutcome:
    files = {fmt: str(folder / name) for fmt, name in FILENAMES.items() if (folder / name).exists()}
    return RenderOutcome(key, meta["frames"], meta["settle_iteration"], files, cached)


def run_title(config: Config, result: RunResult, lang: str = DEFAULT_LANG) -> str:
    """Return the frame heading of a run: its sweep and varied values."""
    sweep = next(s for s in config.sweeps if s.name == result.spec.sweep)
    values = ", ".join(f"{k} = {format_value(v)}" for k, v in result.spec.varied.items())
    return translations(lang).gettext("%(sweep)s: %(values)s") % {"sweep": sweep.title, "values": values}


def make_task(
    config: Config, result: RunResult, formats: tuple[str, ...], cache: Cache, lang: str = DEFAULT_LANG
) -> RenderTask:
    """Describe the rendering of one run in ``lang``, keyed by everything that shapes its pixels."""
    from .frames import FrameJob, frame_labels

    settings: RenderSettings = config.render
    title = run_title(config, result, lang)
    t, a, p = result.trajectory, result.analysis, result.spec.params
    key = media_key(config, result, formats, lang)
    job = FrameJob(
        run_id=result.id, title=title, x=result.data.x, y=result.data.y, slope=p.slope, intercept=p.intercept,
        threshold=p.threshold, loss_floor=a.loss_floor, status=t.status, diverged_at=t.diverged_at,
        loss=t.loss, w=t.w, b=t.b, frame_every=settings.frame_every, labels=frame_labels(translations(lang)),
    )
    return RenderTask(key, job, formats, settings.fps, settings.dpi, str(cache.root))


def media_key(config: Config, result: RunResult, formats: tuple[str, ...], lang: str = DEFAULT_LANG) -> str:
    """Return the hash of everything that shapes a run's media (no training data needed), words included."""
    from .frames import frame_labels

    settings = config.render
    return content_key("media", {
        "params": result.spec.params.to_dict(), "title": run_title(config, result, lang), "formats": list(formats),
        "frame_every": settings.frame_every, "fps": settings.fps, "dpi": settings.dpi,
        "lang": lang, "labels": frame_labels(translations(lang)).texts(),
    })


def render_runs(
    tasks: Sequence[RenderTask],
    jobs: int,
    advance: Callable[[int], None] = lambda n: None,
    executor: Executor | None = None,
) -> dict[str, RenderOutcome]:
    """Render every task (in parallel when jobs > 1); return outcomes by key."""
    outcomes: dict[str, RenderOutcome] = {}
    unique = list({t.key: t for t in tasks}.values())  # identical runs render once
    if executor is None and (jobs <= 1 or len(unique) <= 1):
        for task in unique:
            outcomes[task.key] = render_task(task)
            advance(1)
        return outcomes
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=min(jobs, len(unique)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {executor.submit(render_task, task): task.key for task in unique}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            advance(1)
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


def cached_outcomes(cache: Cache, keys: Sequence[str]) -> dict[str, RenderOutcome]:
    """Return the outcomes already in the cache, by key."""
    found = {}
    for key in dict.fromkeys(keys):
        meta = cache.lookup(key)
        if meta is not None:
            found[key] = _outcome(key, cache.entry_dir(key), meta, cached=True)
    return found


def place_media(stage: Path, run_id: str, outcome: RenderOutcome) -> dict[str, str | None]:
    """Link a run's cached media into the site; return paths relative to the site root."""
    media = stage / "media"
    media.mkdir(exist_ok=True)
    placed: dict[str, str | None] = {}
    for fmt in ("gif", "mp4", "poster"):
        source = outcome.files.get(fmt)
        if source is None:
            placed[fmt] = None
            continue
        name = f"{run_id}{Path(source).suffix}" if fmt != "poster" else f"{run_id}.poster.png"
        target = media / name
        try:
            os.link(source, target)  # cache and site share the bytes; both are only ever replaced, never edited
        except OSError:
            shutil.copyfile(source, target)
        placed[fmt] = f"media/{name}"
    return placed


def default_jobs() -> int:
    return os.cpu_count() or 1
