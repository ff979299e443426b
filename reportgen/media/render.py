"""Render every run's animation, in parallel, once per content hash.

Each run becomes a :class:`RenderTask` of plain data. A worker process keeps one
:class:`~reportgen.media.frames.FrameRenderer` (one figure) for all the runs it draws;
every frame is drawn once and fed to every encoder. Finished media live in the
cache under the hash of what produced them, and the site links to them.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import Executor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from reportgen.config.schema import Config
from reportgen.core.fonts import drawable, warn_undrawable
from reportgen.core.formatting import run_label
from reportgen.core.i18n import translations
from reportgen.infra.cache import Cache, content_key
from reportgen.infra.executors import die_with_parent, make_executor
from reportgen.infra.progress import Progress
from reportgen.media.filmstrip import Filmstrip, draw_filmstrip, write_filmstrip
from reportgen.media.layouts import LAYOUTS, PHONE_FRAME, WIDE_FRAME, drawings
from reportgen.media.plan import FrameJob, FramePlan, frame_job, frame_labels, plan
from reportgen.train.run import RunResult

log = logging.getLogger("reportgen")

#: The files of a cache entry, by format.
FILENAMES = {"gif": "animation.gif", "mp4": "animation.mp4", "poster": "poster.png", "filmstrip": "filmstrip.png"}
#: What a cache entry's meta.json must hold besides its files (text_px: the frame's smallest text, in its pixels).
META_KEYS = ("frames", "fps", "width", "height", "filmstrip", "layout", "text_px")


@dataclass(frozen=True)
class RenderTask:
    """One drawing of one run to render: its frame job, its settings and where its cache entry goes.

    The wide drawing makes every format, the filmstrip and the poster; the phone drawing its MP4 and poster only.
    """

    key: str
    job: FrameJob
    plan: FramePlan
    formats: tuple[str, ...]
    dpi: int
    cache_root: str
    layout: str = WIDE_FRAME.name


@dataclass(frozen=True)
class RunMedia:
    """A run's animation in one language and one drawing, as rendering (or the cache) produced it."""

    key: str
    frames: int  # states in the MP4 (the final hold not counted)
    fps: int
    width: int  # of a frame, in pixels
    height: int
    files: dict[str, str]  # format -> absolute path in the cache
    cached: bool
    filmstrip: Filmstrip | None = None  # the key frames that print shows instead of the video
    layout: str = WIDE_FRAME.name
    phone: RunMedia | None = None  # the wide drawing's portrait twin, for screens below layout.PHONE_MAX_REM

    def url(self, run_id: str, fmt: str) -> str | None:
        """Return where the site holds this format, relative to its root, or None when it was not made."""
        return site_path(run_id, fmt, self.layout) if fmt in self.files else None

    def all(self) -> tuple[RunMedia, ...]:
        """Return this drawing and its phone twin, if it has one."""
        return (self,) if self.phone is None else (self, self.phone)


def site_path(run_id: str, fmt: str, layout: str = WIDE_FRAME.name) -> str:
    """Return the site-relative path of a run's file: media/<id>.gif, .mp4, .poster.png, .filmstrip.png, and for
    its phone drawing media/<id>.phone.mp4 and .phone.poster.png."""
    name = run_id if layout == WIDE_FRAME.name else f"{run_id}.{layout}"
    return f"media/{name}.{fmt}.png" if fmt in ("poster", "filmstrip") else f"media/{name}.{fmt}"


# One figure per dpi per thread: a dask worker may run tasks on several threads.
_LOCAL = threading.local()


def render_task(task: RenderTask) -> RunMedia:
    """Draw one run's frames once, stream them to the MP4, keep the GIF's few, and commit the cache entry.

    A run of one iteration is a picture: it gets its poster only, no video of one frame.
    """
    from reportgen.media.encode import Mp4Stream, half_size, write_gif, write_poster
    from reportgen.media.frames import FrameRenderer
    from reportgen.media.plan import FINAL_HOLD

    renderers = _LOCAL.__dict__.setdefault("renderers", {})
    shape = (task.dpi, task.job.needs_cjk, task.layout)
    renderer = renderers.get(shape)
    if renderer is None:
        renderer = renderers[shape] = FrameRenderer(task.dpi, task.job.needs_cjk, LAYOUTS[task.layout])
    wide = task.layout == WIDE_FRAME.name
    cache = Cache(Path(task.cache_root))
    workdir = cache.new_entry(task.key)
    mp4: Any = None
    try:
        plan = renderer.setup(task.job, task.plan)
        if plan.still:  # a picture (one iteration): its poster only
            formats: tuple[str, ...] = ()
        else:  # the phone drawing is a video and its poster
            formats = task.formats if wide else tuple(f for f in task.formats if f == "mp4")
        gif_at, gif_frames = set(plan.gif), []
        last: Any = None
        for t, rgb in renderer.frames():
            if mp4 is None and "mp4" in formats:  # opened once the frame size is known
                mp4 = Mp4Stream(workdir / FILENAMES["mp4"], (rgb.shape[1], rgb.shape[0]), plan.fps, plan.hold)
            if mp4 is not None:
                mp4.add(rgb)
            if t in gif_at and "gif" in formats:
                gif_frames.append(half_size(rgb))
            last = rgb
        if mp4 is not None:
            mp4.close()
        if gif_frames:
            write_gif(workdir / FILENAMES["gif"], gif_frames, plan.seconds - plan.hold / plan.fps, FINAL_HOLD)
        write_poster(workdir / FILENAMES["poster"], last)
        strip = None
        if formats and wide:  # a picture (one iteration) needs no filmstrip: print shows its poster
            sheet, strip = draw_filmstrip(renderer, len(task.job.loss))
            write_filmstrip(workdir / FILENAMES["filmstrip"], sheet)
        meta = {"frames": len(plan.iterations), "fps": plan.fps, "run_id": task.job.run_id,
                "width": int(last.shape[1]), "height": int(last.shape[0]),
                "filmstrip": strip and {"iterations": list(strip.iterations), "width": strip.width,
                                        "height": strip.height},
                "layout": task.layout, "text_px": renderer.smallest_text_px()}
        folder = cache.commit(task.key, workdir, meta)
    except BaseException as exc:
        if mp4 is not None:
            mp4.abort()
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write() or encoder does not say where
            exc.filename = str(cache.entry_dir(task.key))
        raise
    return _outcome(task.key, folder, meta, cached=False)


def _outcome(key: str, folder: Path, meta: dict, cached: bool) -> RunMedia:
    files = {fmt: str(folder / name) for fmt, name in FILENAMES.items() if (folder / name).exists()}
    strip = meta["filmstrip"]
    filmstrip = Filmstrip(tuple(strip["iterations"]), strip["width"], strip["height"]) if strip else None
    return RunMedia(key, meta["frames"], meta["fps"], meta["width"], meta["height"], files, cached, filmstrip,
                    meta["layout"])


def run_title(config: Config, result: RunResult, lang: str) -> str:
    """Return the frame heading of a run in ``lang`` (``config`` translated to it): its sweep and varied values."""
    sweep = next(s for s in config.sweeps if s.name == result.spec.sweep)
    return translations(lang).gettext("%(sweep)s: %(values)s") % {"sweep": sweep.title,
                                                                  "values": run_label(result.spec.varied)}


def make_task(config: Config, result: RunResult, formats: tuple[str, ...], cache: Cache, lang: str,
              frame_plan: FramePlan | None = None, key: str | None = None, layout: str = WIDE_FRAME.name) -> RenderTask:
    """Describe the rendering of one run in ``lang`` and one drawing, keyed by everything that shapes its pixels.

    ``frame_plan`` and ``key`` (see :func:`media_key`) are computed here unless the caller has them already.
    """
    job = frame_job(result, config.render, drawable(run_title(config, result, lang)), frame_labels(translations(lang)))
    return RenderTask(key or media_key(config, result, formats, lang, layout=layout), job, frame_plan or plan(job),
                      formats, config.render.dpi, str(cache.root), layout)


def media_key(config: Config, result: RunResult, formats: tuple[str, ...], lang: str,
              render: Mapping[str, Any] | None = None, layout: str = WIDE_FRAME.name) -> str:
    """Return the hash of everything that shapes one drawing of a run's media (no training data needed), words
    included.

    ``render``: the config's [render] table as plain data (computed once per build by the caller). Whether a
    build draws for phones is not part of it: the wide drawing is the same either way.
    """
    render = dict(render if render is not None else config.to_dict()["render"])
    render.pop("phone", None)
    return content_key("media", {
        "params": result.spec.params.to_dict(), "title": run_title(config, result, lang), "formats": list(formats),
        "render": render, "lang": lang, "labels": frame_labels(translations(lang)).texts(),
        "layout": asdict(LAYOUTS[layout]),  # its geometry: a change to it draws the frames again
    })


def render_runs(
    tasks: Sequence[RenderTask],
    jobs: int,
    advance: Callable[[int], None] = lambda n: None,
    executor: Executor | None = None,
) -> dict[str, RunMedia]:
    """Render every task (in parallel when jobs > 1); return outcomes by key."""
    outcomes: dict[str, RunMedia] = {}
    unique = list({t.key: t for t in tasks}.values())  # identical runs render once
    if executor is None and (jobs <= 1 or len(unique) <= 1):
        for task in unique:
            outcomes[task.key] = render_task(task)
            advance(1)
        return outcomes
    own = executor is None
    if own:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=min(jobs, len(unique)), mp_context=multiprocessing.get_context("spawn"),
                                       initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = {executor.submit(render_task, task): task.key for task in unique}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            advance(1)
    except KeyboardInterrupt:
        if own:  # stop now: finishing the renders in hand (and those queued to workers) could take minutes
            stop_workers(executor)
        raise
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


def stop_workers(pool: Any) -> None:
    """Terminate a process pool's workers mid-render.

    Each one's ffmpeg then sees its input end, finishes its file and exits; the next build's
    remove_stale clears the half-written entries, as after a SIGKILL.
    """
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def cached_outcomes(cache: Cache, keys: Sequence[str]) -> dict[str, RunMedia]:
    """Return the outcomes already in the cache, by key."""
    found = {}
    for key in dict.fromkeys(keys):
        meta = cache.lookup(key, META_KEYS)
        if meta is not None:
            found[key] = _outcome(key, cache.entry_dir(key), meta, cached=True)
    return found


def render_media(
    configs: Mapping[str, Config], results: Sequence[RunResult], plans: Mapping[str, FramePlan],
    formats: tuple[str, ...], cache: Cache, progress: Progress, jobs: int | None = None, executor: str = "local",
    scheduler: str | None = None,
) -> tuple[dict[tuple[str, str], RunMedia], int]:
    """Render each animated run once per language (``configs``: the config in each) and drawing, or take it from
    the cache: the wide drawing, and with ``[render] phone`` and an MP4 the phone drawing too.

    ``plans``: each run's frame plan. Return the media by (language, run id), each wide drawing holding its phone
    twin, and how many drawings had to be rendered.
    """
    animated = [r for r in results if r.spec.animate]
    first = next(iter(configs.values()))  # [render] is the same in every language
    render = first.to_dict()["render"]

    def lookup(formats: tuple[str, ...]) -> tuple[dict[tuple[str, str, str], str], dict[str, RunMedia]]:
        # Training is shared; the frames are drawn once per language, since their words differ.
        layouts = [drawing.name for drawing in drawings(first.render.phone, formats)]
        keys = {(lang, r.id, layout): media_key(config, r, formats, lang, render, layout)
                for lang, config in configs.items() for r in animated for layout in layouts
                if layout == WIDE_FRAME.name or not plans[r.id].still}  # a picture (one frame) is not a video
        return keys, cached_outcomes(cache, list(keys.values()))

    keys, outcomes = lookup(formats)
    if len(outcomes) < len(set(keys.values())) and "mp4" in formats and ffmpeg_exe() is None:
        # Only now is ffmpeg needed: a build whose MP4s are all cached never looks for it.
        log.warning("ffmpeg not found (imageio-ffmpeg); skipping MP4, writing the other formats")
        keys, outcomes = lookup(tuple(f for f in formats if f != "mp4"))
        formats = tuple(f for f in formats if f != "mp4")
    runs = {r.id: r for r in animated}
    missing = [make_task(configs[lang], runs[run_id], formats, cache, lang, plans[run_id], key, layout)
               for (lang, run_id, layout), key in keys.items() if key not in outcomes]
    if missing:
        warn_undrawable(s.title for config in configs.values() for s in config.sweeps)
        cache.remove_stale()
        # A worker renders one animation at a time: never more workers (processes, memory) than animations.
        jobs = min(jobs or default_jobs(), len(missing))
        animations = len({(task.job.run_id, task.job.title) for task in missing})
        counted = f"{len(missing)} drawings of " if len(missing) > animations else ""
        label = f"rendering {counted}{animations} animations ({jobs} jobs, {executor})"
        # The executor starts only here: a fully cached build never starts a cluster.
        with make_executor(executor, jobs, scheduler) as pool:
            with progress.stage(label, total=len(missing), unit="run") as advance:
                outcomes.update(render_runs(missing, jobs, advance, pool))
    cache.mark_used("media", *keys.values())  # entries the workers committed, too
    log.info("media: %d drawings rendered, %d from the cache", len(missing), len(keys) - len(missing))
    media = {}
    for (lang, run_id, layout), key in keys.items():
        if layout == WIDE_FRAME.name:
            phone = keys.get((lang, run_id, PHONE_FRAME.name))
            media[(lang, run_id)] = replace(outcomes[key], phone=outcomes[phone] if phone else None)
    return media, len(missing)


def ffmpeg_exe() -> str | None:
    """Return the bundled ffmpeg binary, or None when it cannot be found."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - any failure means "no encoder"
        return None


def default_jobs() -> int:
    return os.cpu_count() or 1
