"""Perform a full site build: config -> grid -> training -> explanations -> media -> figures -> pages -> files.

:func:`build` names each stage in order; each lives in its folder (``config/``, ``train/``, ``teach/``,
``media/``, ``figures/``, ``site/``) and hands the next one small typed objects. Everything is computed and
cached first; the site is written last, in a staging folder swapped in at the end.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Config
from reportgen.core import languages
from reportgen.core.formatting import MB
from reportgen.core.i18n import translations
from reportgen.estimate import Plan, check_budgets, describe, plan_build
from reportgen.figures.draw import draw_figures
from reportgen.infra import output, stamp
from reportgen.infra.cache import Cache, content_key
from reportgen.infra.errors import ConfigError, disk_errors
from reportgen.infra.options import (
    CACHE_DIR,
    BuildOptions,
    cache_dir,
    portable,
    protected_paths,
    rebuild_command,
)
from reportgen.infra.progress import Progress
from reportgen.media.plan import FramePlan, frame_plans, settle_of
from reportgen.media.render import render_media
from reportgen.site.bundle import Bundle, bundle_page, check_size
from reportgen.site.pages import SitePage, render_page
from reportgen.site.printing import find_printer, print_pdf
from reportgen.site.results import json_text, results_document
from reportgen.site.views import page_view
from reportgen.site.webfont import page_font
from reportgen.site.writer import write_site
from reportgen.teach.evidence import GraphEvidence
from reportgen.teach.stops import StopExplanation, explain_stop
from reportgen.teach.theory import Theory, theory_of
from reportgen.train.run import RunResult, course_result
from reportgen.train.store import load_runs, store_runs

log = logging.getLogger("reportgen")


@dataclass(frozen=True)
class BuildReport:
    """What a build produced, and what it had to compute."""

    out: Path
    index: Path
    results: list[RunResult]
    trained: bool
    rendered: int
    languages: tuple[str, ...] = (languages.DEFAULT,)
    single_files: tuple[tuple[Path, int], ...] = ()  # (path, size in bytes)
    pdfs: tuple[tuple[Path, int], ...] = ()  # (path, pages)


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Perform a full site build and return where it went."""
    progress = progress or Progress(quiet=True)
    check_environment()
    inputs = stamp.inputs_digest(options)  # before anything is read: an edit during the build is seen next time
    plan = plan_build(options)
    config, langs = plan.config, plan.languages
    for line in describe(plan.estimate, config.limits):
        log.debug("estimate: %s", line)
    check_budgets(config, plan.estimate, config.limits)
    out = options.out.resolve()
    output.check_output_dir(out, protected_paths(options))
    single_paths = file_paths("--single-file", options.single_file, langs, options)
    pdf_paths = file_paths("--pdf", options.pdf, langs, options)
    both = {p.resolve() for p in single_paths.values()} & {p.resolve() for p in pdf_paths.values()}
    if both:
        raise ConfigError(f"--pdf and --single-file both write {sorted(both)[0]}: give them different names")
    if options.scheduler and options.executor != "dask":
        raise ConfigError(f"--scheduler {options.scheduler}: renders through dask only; add --executor dask")
    if CACHE_DIR in out.parts:
        raise ConfigError(f"--out {options.out}: is inside a build cache ({CACHE_DIR}), which builds prune; "
                          "write the site elsewhere")
    printer = find_printer() if pdf_paths else None  # before any work: say at once what --pdf lacks
    cache = Cache(cache_dir(out), enabled=options.use_cache)
    check_writable(out, cache, {"--single-file": single_paths, "--pdf": pdf_paths})

    # One build at a time per folder: they share the cache, and two swaps at once would mix sites.
    with output.build_lock(out.parent), disk_errors(), stamp.counting_warnings() as warnings:
        results, trained = train_runs(plan.specs, cache, progress, options.device)  # train/
        plans = frame_plans(results, config.render)  # media/plan: read by the explanations, captions and renderer
        stops = {r.id: explain_stop(r, settle_of(r, plans.get(r.id), config.render)) for r in results}  # teach/
        theory = theory_of(results, config.defaults)
        evidence = graph_evidence(results, config, cache)
        # The built-in config's titles are translated; a user's config is shown as written.
        translated = {lang: config.translated(translations(lang).gettext) for lang in langs}
        media, rendered = render_media(translated, results, plans, config.render.formats, cache, progress,  # media/
                                       options.jobs or plan.estimate.workers or None, options.executor,
                                       options.scheduler)
        pages = [make_page(translated[lang], lang, plan, results, plans, media, stops, theory, evidence, options,
                           cache, progress) for lang in langs]  # figures/, site/
        document = results_document(config, results, {run_id: m for (lang, run_id), m in media.items()
                                                      if lang == langs[0]}, stops, theory)
        results_text = json_text(document)  # once: the site and every single file hold the same text
        bundles = single_files(pages, results_text, single_paths, options.max_size_mb)

        stamp.forget(out)
        with output.staged_output(out) as stage, progress.stage("writing pages"):
            write_site(stage, pages, results_text)
            printed = []
            for lang, path in pdf_paths.items():
                with progress.stage(f"printing {path.name}"):
                    page = stage / "index.html" if len(langs) == 1 else stage / lang / "index.html"
                    printed.append((path, print_pdf(printer, page, path)))
        for path, bundle in bundles:
            output.write_atomic(path, bundle.html)
        if inputs is not None and not warnings.count:  # a warning is said again next time, not skipped
            stamp.record(inputs, out, single_paths.values(), printed)
        pruned = cache.prune(config.cache.keep_builds, config.cache.max_mb * MB)
    log.debug("cache: %d entries removed, %d kept (%.1f MB)", pruned.removed, pruned.kept, pruned.bytes / MB)
    return BuildReport(out=out, index=out / "index.html", results=results, trained=trained, rendered=rendered,
                       languages=langs, single_files=tuple((p, b.size) for p, b in bundles), pdfs=tuple(printed))


def check_environment() -> None:
    """Refuse, before any work, a SOURCE_DATE_EPOCH that is not a count of seconds (matplotlib would fail late)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and not epoch.strip().isdigit():
        raise ConfigError(f"SOURCE_DATE_EPOCH={epoch!r}: must be a whole number of seconds since 1970-01-01")


def make_page(config: Config, lang: str, plan: Plan, results: Sequence[RunResult], plans: Mapping[str, FramePlan],
              media: Mapping, stops: Mapping[str, StopExplanation], theory: Theory, evidence: GraphEvidence | None,
              options: BuildOptions, cache: Cache, progress: Progress) -> SitePage:
    """Draw one language's figures, gather its view, render its HTML and fit its web font (``config`` in ``lang``)."""
    with progress.stage(f"drawing figures ({lang})"):
        figures = draw_figures(config, results, plan.layouts, evidence, theory.student, lang, translations(lang), cache)
    config_name = portable(options.config_path) if options.config_path is not None else config.source
    view = page_view(config, lang, plan.languages, results, plan.layouts, plans, media, stops, theory, figures,
                     evidence, rebuild_command(options), config_name, cache)
    html = render_page(view, compiled=cache.enabled)  # compiled templates live in Jinja2's own per-user folder
    # The language switch of a multi-language build names every language: their fonts must draw it.
    names = " ".join(languages.LANGUAGES[code] for code in plan.languages) if len(plan.languages) > 1 else ""
    with progress.stage(f"fitting the web font ({lang})"):
        font = page_font(html + names, cache)
    return SitePage(view, html, font)


def file_paths(flag: str, target: Path | None, langs: tuple[str, ...], options: BuildOptions) -> dict[str, Path]:
    """Return where each language's --single-file or --pdf goes, after checking that it may go there."""
    if target is None:
        return {}
    paths = output.language_paths(target, langs)
    for path in paths.values():
        output.check_output_file(flag, path, options.out, protected_paths(options))
    return paths


def single_files(pages: Sequence[SitePage], results_text: str, paths: dict[str, Path],
                 max_mb: float) -> list[tuple[Path, Bundle]]:
    """Pack each page into its single file, or refuse them all when one is above ``max_mb``."""
    results = results_text.encode("utf-8") if paths else b""
    bundles = []
    for page in pages:
        lang = page.view.lang
        if lang in paths:
            siblings = {other: path.name for other, path in paths.items() if other != lang}
            bundle = bundle_page(page, results, siblings)
            check_size(bundle, str(paths[lang]), max_mb)
            bundles.append((paths[lang], bundle))
    return bundles


def check_writable(out: Path, cache: Cache, files: Mapping[str, Mapping[str, Path]]) -> None:
    """Refuse, before any work, a folder the build would write in but cannot: the site's, the cache's, the files'."""
    output.check_writable(out.parent, "--out")
    for folder in cache.folders():
        output.check_writable(folder, "cache")
    for flag, paths in files.items():
        for path in paths.values():
            output.check_writable(path.parent, flag)


def train_runs(
    specs: Sequence[RunSpec], cache: Cache, progress: Progress, device: str = "cpu"
) -> tuple[list[RunResult], bool]:
    """Train and analyse every run, or load them from the cache (then torch is never imported)."""
    key = content_key("train", [s.params.to_dict() for s in specs])
    stored = load_runs(cache, key, specs)
    if stored is not None:
        log.info("training: %d runs from the cache", len(specs))
        return stored, False

    from reportgen.train.analysis import analyse_all
    from reportgen.train.batched import (  # imports torch: only when something must train
        draw_data,
        resolve_device,
        train_grid,
    )

    device = resolve_device(device)
    data = draw_data(specs)
    max_iters = max(s.params.max_iters for s in specs)
    with progress.stage(f"training {len(specs)} runs together on {device}", total=max_iters) as advance:
        trajectories = train_grid(specs, data, device=device, progress=advance)
    with progress.stage("analysing runs"):
        analyses = analyse_all(data, [s.params for s in specs])
    results = [RunResult(spec=s, data=d, trajectory=t, analysis=a) for s, d, t, a in zip(specs, data, trajectories, analyses)]
    store_runs(cache, key, results)
    return results, True


def graph_evidence(results: Sequence[RunResult], config: Config, cache: Cache) -> GraphEvidence | None:
    """Capture the computational-graph evidence from the course run's real data (cached); freeze its step."""
    run = course_result(results, config.defaults)
    if run is None:
        return None
    k = min(config.step_iteration, run.spec.params.max_iters - 1)
    key = content_key("graphs", {"x": run.data.x.tolist(), "y": run.data.y.tolist(),
                                 "w0": run.data.w0, "lr": run.spec.params.lr, "step": k})

    def capture() -> GraphEvidence:
        from reportgen.teach.capture import capture_graph_evidence  # imports torch

        return capture_graph_evidence(run.data.x, run.data.y, run.data.w0, run.spec.params.lr, k)

    return cache.cached_object("graphs", key, GraphEvidence, capture)
