"""Plan a build from the config alone: its grid, its page layout, its languages, and what it will cost.

A build beyond its budgets is refused here, before any work.

Every number is an upper bound, known before any work: each run is taken to use
its whole iteration budget. The per-unit costs below were measured on the course
machine; ``benchmarks/bench_estimate.py`` sets them against real builds.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from reportgen.config import layout
from reportgen.config.grid import RunSpec, expand_grid, grid_size
from reportgen.config.layout import SweepLayout, page_layout
from reportgen.config.load import load_config
from reportgen.config.schema import Config, Limits, limit_flag, options_of
from reportgen.core import languages
from reportgen.core.formatting import MB
from reportgen.infra.errors import ConfigError
from reportgen.infra.options import BuildOptions
from reportgen.media import layouts
from reportgen.media.plan import FINAL_HOLD, GIF_BUDGET
from reportgen.train.course import COURSE_WINDOW, PILE_MOST_LINES

#: Memory of a build process before its grid costs anything: Python, torch, matplotlib, the evidence and figures
#: (about 415 MB measured, plus a margin).
BASE_MEMORY = 450e6
#: Bytes per run and iteration of the longest run: loss, w and b in float32, and one transposed copy at a time.
MEMORY_PER_ITERATION = 16
#: Seconds of training: per iteration of the loop, and per run, data point and iteration (benchmarks/bench_train.py
#: on the course's 2-core machine: 1 run x 1,000 iterations in 0.135 s, 10,000 runs x 20 points in 1.74 s).
TRAIN_PER_ITERATION = 135e-6
TRAIN_PER_POINT_ITERATION = 8e-9
#: Seconds to draw and encode a frame on one core, per pixel (benchmarks/bench_render.py: an 800 x 680 frame takes
#: about 6 ms drawing and 10 ms x264).
RENDER_PER_PIXEL = 0.017 / (800 * 680)
#: And when any run takes minibatches: its loss over all points, kept per iteration too.
MEMORY_PER_MINIBATCH_ITERATION = 8
#: Memory of one render worker with its ffmpeg: a base, and per pixel of its largest frame (fitted to the whole
#: process tree's peak: 813 MB at dpi 100 and 2,419 MB at dpi 300, each with 2 workers, against the build process
#: alone's 420 MB; with the phone drawings too, 817 MB and 2,136-2,358 MB; the base raised to cover the built-in
#: config's 955 MB, whose 1,000-frame runs keep ffmpeg busier).
WORKER_BASE = 170e6
WORKER_PER_PIXEL = 185
#: Bytes per run and data point: the tensors of one training step.
MEMORY_PER_POINT = 48
#: Bytes per run: its spec, result and analysis objects, and its entry of results.json while it is written.
MEMORY_PER_RUN = 12e3
#: Bytes per loss value kept in results.json, while the document is made: a float object, its list slot, its text.
MEMORY_PER_HISTORY_POINT = 64
#: Bytes of results.json: the config, then per run its fields and per kept loss value its text.
RESULTS_HEADER = 8e3
RESULTS_PER_RUN = 1.7e3
RESULTS_PER_POINT = 12
RESULTS_PER_THINNED_POINT = 7  # the iteration of each value, when the history is thinned
#: Bytes per pixel of a full frame: an MP4 once, then per frame drawn or held; the GIF preview per frame of it
#: (its frames are half-size; the file is at most GIF_BUDGET); the 256-colour PNG poster (0.04 measured).
MP4_PER_VIDEO = 0.2
MP4_PER_FRAME = 0.003
GIF_PER_FRAME = 0.025
POSTER = 0.06
#: Bytes of a page besides its media: markup, stylesheet and graphs; per figure (loss overlay, heatmap); per run
#: in a table; per animated run.
PAGE_BASE = 100e3
#: The answer's two figures (the course's window recreated, the loss above its floor), for the longest run: their
#: frame, and per line of the window's pile (at most PILE_MOST_LINES; measured: 47 KB with 47 lines, and
#: 189 KB with 772 lines for a run of 300,000 iterations, its loss figure 44 KB).
ANSWER_BASE = 100e3
ANSWER_PER_LINE = 210
PAGE_PER_FIGURE = 100e3
PAGE_PER_RUN = 1.5e3
PAGE_PER_ANIMATION = 2e3
#: Bytes of each run with a card (every run of an explorer, the animated runs of a larger sweep): its markup, and
#: its loss chart, drawn twice (wide, and narrow for phones), each a frame and its curves: the run's and, in a sweep
#: small enough for an overlay, every other run's, loss_chart.MAX_POINTS points at most (measured: 3.0 KB of markup
#: and 7.6 KB of charts a run, in an explorer of 400 one-curve charts).
PAGE_PER_CARD = 3.5e3
CHART_BASE = 2 * 1e3
CHART_PER_CURVE = 2 * 3.6e3


@dataclass(frozen=True)
class Estimate:
    """What a build will need at most, computed from its config."""

    runs: int
    iterations: int  # the longest run's budget: the training loop's length
    languages: int
    animations: int  # animated runs times languages
    history_points: int  # loss values kept per run in results.json, at most
    memory: int  # bytes: peak memory of the build process
    results: int  # bytes of results.json
    frames: int  # frames to draw, in every language
    site: int  # bytes of the site
    train_seconds: float = 0.0  # at most, at the course machine's measured speed
    render_seconds: float = 0.0  # on one core; the render workers share it
    workers: int = 0  # render workers: --jobs, else the CPU count as far as the memory budget allows

    def seconds(self, jobs: int) -> float:
        """About how long a cold build takes at most: training, then the animations over ``jobs`` workers."""
        return self.train_seconds + self.render_seconds / max(1, jobs)


@dataclass(frozen=True)
class Budget:
    """One budget: what the build needs against what ``[limits]`` allows."""

    what: str
    option: str  # its [limits] option
    need: int
    limit: int
    unit: str  # "MB" or "frames"
    remedy: str  # what else lowers the need

    @property
    def exceeded(self) -> bool:
        return self.need > self.limit

    def problem(self, source: str) -> str:
        """Say, in one line, that the build needs too much, and which knob to turn."""
        return (f"{source}: limits.{self.option}: {self.what} estimated at up to {self.shown(self.need)}, over the "
                f"budget of {self.shown(self.limit)}; raise [limits] {self.option} or pass {limit_flag(self.option)}, "
                f"or {self.remedy}")

    def shown(self, amount: int) -> str:
        if self.unit == "frames":
            return f"{amount:,} frames"
        return f"{amount / MB:,.1f} MB" if amount < 10 * MB else f"{amount / MB:,.0f} MB"


def estimate(config: Config, specs: Sequence[RunSpec], languages: int = 1, jobs: int | None = None) -> Estimate:
    """Estimate the memory, results.json, frames and site of building ``specs`` in ``languages`` languages.

    Memory is the whole process tree's: the build process, and while it renders, ``jobs`` render workers (the
    CPU count by default, never more than the animations), each with its ffmpeg.
    """
    limits, render = config.limits, config.render
    runs = len(specs)
    t_max = max((s.params.max_iters for s in specs), default=0)
    width = max((s.params.n_points for s in specs), default=0)
    history = limits.history_per_run(runs)  # loss values a run keeps, as results.json keeps them
    kept = [min(s.params.max_iters, history) for s in specs]
    thinned = sum(k for s, k in zip(specs, kept) if s.params.max_iters > history)
    results = RESULTS_HEADER + runs * RESULTS_PER_RUN + sum(kept) * RESULTS_PER_POINT + thinned * RESULTS_PER_THINNED_POINT
    per_iteration = MEMORY_PER_ITERATION + MEMORY_PER_MINIBATCH_ITERATION * any(s.params.batch_size for s in specs)
    minibatch_kept = sum(k for s, k in zip(specs, kept) if s.params.batch_size)  # their full_loss_history too
    results += minibatch_kept * RESULTS_PER_POINT
    memory = (BASE_MEMORY + runs * (t_max * per_iteration + width * MEMORY_PER_POINT + MEMORY_PER_RUN)
              + (sum(kept) + minibatch_kept) * MEMORY_PER_HISTORY_POINT)

    animated = [s for s in specs if s.animate]  # with no video format too: its poster is the last of its frames
    per_run = [math.ceil(s.params.max_iters / render.frame_every) + 1 for s in animated]
    frames = sum(per_run) * languages
    drawn_in = layouts.drawings(render.phone, render.formats)  # each drawing's frame
    sizes = [width * height for width, height in (d.pixels(render.dpi) for d in drawn_in)]
    pixels, drawn = sizes[0], sum(sizes)
    frames *= len(drawn_in)
    # A worker draws one drawing at a time: its largest frame sets its peak (measured with the phone drawings too).
    per_worker = WORKER_BASE + WORKER_PER_PIXEL * max(sizes)
    workers = min(jobs or os.cpu_count() or 1, len(animated) * languages * len(drawn_in))  # one drawing each
    if jobs is None and workers > 1:  # by default, as many workers as the memory budget leaves room for
        workers = max(1, min(workers, int((limits.max_memory_mb * MB - memory) // per_worker)))
    memory += workers * per_worker
    hold = render.fps * FINAL_HOLD  # the last frame, held: at most a second at the fastest rate
    mp4 = [(MP4_PER_VIDEO + (n + hold) * MP4_PER_FRAME) * drawn if "mp4" in render.formats else 0 for n in per_run]
    gif = [min(min(render.gif_frames, s.params.max_iters) * GIF_PER_FRAME * pixels, GIF_BUDGET)
           if "gif" in render.formats else 0 for s in animated]
    posters = sum(POSTER * (drawn if s.params.max_iters > 1 else pixels) for s in animated)  # a still: no phone one
    media = languages * (sum(mp4) + sum(gif) + posters)
    sweeps = _sweep_shapes(specs)
    figures = sum(layout.overlaid(n) + (dims == 2) for n, dims in sweeps.values())
    tabled = sum(n for n, _ in sweeps.values() if layout.tabulated(n))
    animated_in = Counter(s.sweep for s in animated)
    cards = sum(layout.cards(n, animated_in[name])
                * (PAGE_PER_CARD + CHART_BASE + CHART_PER_CURVE * (n if layout.overlaid(n) else 1))
                for name, (n, _) in sweeps.items())
    answer = ANSWER_BASE + min(math.ceil(t_max / COURSE_WINDOW.every), PILE_MOST_LINES) * ANSWER_PER_LINE
    pages = languages * (PAGE_BASE + answer + figures * PAGE_PER_FIGURE + tabled * PAGE_PER_RUN
                         + len(animated) * PAGE_PER_ANIMATION + cards)
    points = sum(s.params.n_points for s in specs)
    train = t_max * TRAIN_PER_ITERATION + t_max * points * TRAIN_PER_POINT_ITERATION
    return Estimate(runs=runs, iterations=t_max, languages=languages, animations=len(animated) * languages,
                    history_points=min(t_max, history), memory=int(memory), results=int(results),
                    frames=frames, site=int(results + media + pages), train_seconds=train,
                    render_seconds=sum(per_run) * languages * drawn * RENDER_PER_PIXEL, workers=workers)


def _sweep_shapes(specs: Sequence[RunSpec]) -> dict[str, tuple[int, int]]:
    """Return each sweep's number of runs and of varied parameters."""
    shapes: dict[str, tuple[int, int]] = {}
    for spec in specs:
        shapes[spec.sweep] = (shapes.get(spec.sweep, (0, 0))[0] + 1, len(spec.varied))
    return shapes


def budgets(need: Estimate, limits: Limits) -> tuple[Budget, ...]:
    """Set each estimate against its budget."""
    return (
        Budget("peak memory", "max_memory_mb", need.memory, limits.max_memory_mb * MB, "MB",
               "train fewer runs or fewer iterations (max_iters), or render with fewer --jobs or a lower [render] dpi "
               "(each render worker holds its frames)"),
        Budget("results.json", "max_results_mb", need.results, limits.max_results_mb * MB, "MB",
               "keep fewer loss values per run ([limits] history_points) or train fewer runs"),
        Budget("frames to draw", "max_frames", need.frames, limits.max_frames, "frames",
               "raise [render] frame_every, animate fewer runs (a sweep's animate = \"corners\" or \"none\") "
               "or set formats = []"),
        Budget("the site", "max_site_mb", need.site, limits.max_site_mb * MB, "MB",
               "lower [render] dpi, raise frame_every or animate fewer runs"),
    )


def check_budgets(config: Config, need: Estimate, limits: Limits) -> None:
    """Refuse a build beyond any of its budgets: one line per budget exceeded."""
    problems = [b.problem(config.source) for b in budgets(need, limits) if b.exceeded]
    if problems:
        raise ConfigError(*problems)


def describe(need: Estimate, limits: Limits) -> list[str]:
    """Return the estimate as lines of text, each with its budget."""
    lines = [f"{need.runs:,} runs of up to {need.iterations:,} iterations, {need.animations:,} animations "
             f"in {need.languages} language{'s' if need.languages > 1 else ''}; results.json keeps up to "
             f"{need.history_points:,} loss values per run"]
    for b in budgets(need, limits):
        over = "  OVER BUDGET" if b.exceeded else ""
        lines.append(f"{b.what}: up to {b.shown(b.need)} (budget {b.shown(b.limit)}, [limits] {b.option}){over}")
    jobs = max(1, need.workers)
    lines.append(f"time, cold: up to {duration(need.train_seconds)} training and {duration(need.render_seconds / jobs)} "
                 f"rendering on {jobs} job{'s' if jobs > 1 else ''} (at the course machine's speed; a cache skips both)")
    return lines


def duration(seconds: float) -> str:
    """Write a time as a person reads it: 0.4 s, 12 s, 5.2 min, 3.1 h."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 600:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3 * 3600 else f"{seconds / 3600:.1f} h"


def effective_limits(config: Config, overrides: Mapping[str, int]) -> Limits:
    """Return the config's ``[limits]`` with the flags' values in place of its own."""
    known = {f.name for f in options_of(Limits)}
    return dataclasses.replace(config.limits, **{k: v for k, v in overrides.items() if k in known and v is not None})


@dataclass(frozen=True)
class Plan:
    """What a build will do, known from the config and the flags before any work."""

    config: Config  # its [limits] as the flags leave them
    specs: list[RunSpec]
    layouts: dict[str, SweepLayout]  # what the page shows of each sweep
    languages: tuple[str, ...]
    estimate: Estimate


def plan_build(options: BuildOptions) -> Plan:
    """Read the config, expand its grid, lay its page out and estimate what building it costs (nothing is written)."""
    config = load_config(options.config_path)
    config = dataclasses.replace(config, limits=effective_limits(config, options.limits))
    langs = report_languages(options.lang, config)
    refuse_huge_grid(config)
    specs = expand_grid(config)
    return Plan(config, specs, page_layout(config, specs), langs, estimate(config, specs, len(langs), options.jobs))


def refuse_huge_grid(config: Config) -> None:
    """Refuse, from the list lengths alone and in well under a second, a grid whose runs alone exceed the memory
    budget: building it first (1e8 runs from four lists of 100) would take the memory it is refused for."""
    runs = grid_size(config)
    floor = BASE_MEMORY + runs * MEMORY_PER_RUN
    if floor > config.limits.max_memory_mb * MB:
        raise ConfigError(f"{config.source}: {runs:,} runs need at least {floor / MB:,.0f} MB to train, above the "
                          f"budget of {config.limits.max_memory_mb:,} MB ([limits] max_memory_mb, or "
                          f"{limit_flag('max_memory_mb')}); fewer values per sweep, or a larger budget")


def report_languages(flag: str | None, config: Config) -> tuple[str, ...]:
    """Return the languages to build: the --lang flag's, else the config's."""
    if flag is None:
        return languages.resolve(config.lang)
    lang = languages.normalize(flag)
    if lang is None:
        raise ConfigError(f"--lang {flag!r}: {languages.UNKNOWN}")
    return languages.resolve(lang)
