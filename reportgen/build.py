"""Perform a full site build: config -> grid -> training -> analysis -> media -> figures -> pages -> files."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from . import languages, output, stamp
from .animation import settle_of
from .bundle import Bundle, bundle_page, check_size
from .cache import Cache, content_key
from .config import Config, load_config
from .evidence import GraphEvidence
from .exceptions import ConfigError, disk_errors
from .explain import explain_stop, theory_of
from .figures import draw_figures
from .estimate import Estimate, check_budgets, describe, effective_limits, estimate
from .grid import RunSpec, expand_grid
from .i18n import translations
from .options import BuildOptions, cache_dir, portable, protected_paths, rebuild_command
from .progress import Progress
from .render import render_media
from .printing import Printer, find_printer, print_pdf
from .results import RunResult, json_text, results_document
from .runstore import load_runs, store_runs
from .site import SitePage, render_page, write_site
from .views import page_view
from .webfont import page_font

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


@dataclass(frozen=True)
class Plan:
    """What a build will do, known from the config and the flags before any work."""

    config: Config  # its [limits] as the flags leave them
    specs: list[RunSpec]
    languages: tuple[str, ...]
    estimate: Estimate


def plan_build(options: BuildOptions) -> Plan:
    """Read the config, expand its grid and estimate what building it costs (nothing is written)."""
    config = load_config(options.config_path)
    config = dataclasses.replace(config, limits=effective_limits(config, options.limits))
    langs = report_languages(options.lang, config)
    specs = expand_grid(config)
    return Plan(config, specs, langs, estimate(config, specs, len(langs)))


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Perform a full site build and return where it went."""
    progress = progress or Progress(quiet=True)
    inputs = stamp.inputs_digest(options)  # before anything is read: an edit during the build is seen next time
    plan = plan_build(options)
    config, specs, langs = plan.config, plan.specs, plan.languages
    for line in describe(plan.estimate, config.limits):
        log.debug("estimate: %s", line)
    check_budgets(config, plan.estimate, config.limits)
    out = options.out.resolve()
    output.check_output_dir(out, protected_paths(options))
    single_paths = file_paths("--single-file", options.single_file, langs, options)
    pdf_paths = file_paths("--pdf", options.pdf, langs, options)
    printer = find_printer() if pdf_paths else None  # before any work: say at once what --pdf lacks
    cache = Cache(cache_dir(out), enabled=options.use_cache)
    check_writable(out, cache, {"--single-file": single_paths, "--pdf": pdf_paths})

    # One build at a time per folder: they share the cache, and two swaps at once would mix sites.
    with output.build_lock(out.parent), disk_errors(), stamp.counting_warnings() as warnings:
        results, trained = train_runs(specs, cache, progress, options.device)
        # The built-in config's titles are translated; a user's config is shown as written.
        translated = {lang: config.translated(translations(lang).gettext) for lang in langs}
        media, rendered = render_media(translated, results, config.render.formats, cache, progress,
                                       options.jobs, options.executor, options.scheduler)
        evidence = graph_evidence(results, cache)
        stops = {r.id: explain_stop(r, settle_of(r, config.render)) for r in results}
        theory = theory_of(results, config.defaults.to_dict())
        command = rebuild_command(options)
        config_name = portable(options.config_path) if options.config_path is not None else config.source
        compiled = cache.enabled  # keep compiled templates (in Jinja2's own per-user folder)
        # The language switch of a multi-language build names every language: their fonts must draw it.
        names = " ".join(languages.LANGUAGES[lang] for lang in langs) if len(langs) > 1 else ""
        pages = []
        for lang in langs:
            with progress.stage(f"drawing figures ({lang})"):
                figures = draw_figures(translated[lang], results, evidence, lang, translations(lang), cache)
            view = page_view(translated[lang], lang, langs, results, media, stops, theory, figures, evidence,
                             command, config_name, cache)
            html = render_page(view, compiled)
            with progress.stage(f"fitting the web font ({lang})"):
                font = page_font(html + names, cache)
            pages.append(SitePage(view, html, font))
        document = results_document(config, results, {run_id: m for (lang, run_id), m in media.items()
                                                      if lang == langs[0]}, stops, theory)
        bundles = single_files(pages, document, single_paths, options.max_size_mb)

        stamp.forget(out)
        with output.staged_output(out) as stage, progress.stage("writing pages"):
            write_site(stage, pages, document)
            printed = []
            for lang, path in pdf_paths.items():
                with progress.stage(f"printing {path.name}"):
                    page = stage / "index.html" if len(langs) == 1 else stage / lang / "index.html"
                    printed.append((path, print_pdf(printer, page, path)))
        for path, bundle in bundles:
            output.write_file(path, bundle.html)
        if inputs is not None and not warnings.count:  # a warning is said again next time, not skipped
            stamp.record(inputs, out, single_paths.values(), printed)
        pruned = cache.prune(config.cache.keep_builds, config.cache.max_mb * 1_000_000)
    log.debug("cache: %d entries removed, %d kept (%.1f MB)", pruned.removed, pruned.kept, pruned.bytes / 1e6)
    return BuildReport(out=out, index=out / "index.html", results=results, trained=trained, rendered=rendered,
                       languages=langs, single_files=tuple((p, b.size) for p, b in bundles), pdfs=tuple(printed))


def file_paths(flag: str, target: Path | None, langs: tuple[str, ...], options: BuildOptions) -> dict[str, Path]:
    """Return where each language's --single-file or --pdf goes, after checking that it may go there."""
    if target is None:
        return {}
    paths = output.language_paths(target, langs)
    for path in paths.values():
        output.check_output_file(flag, path, options.out, protected_paths(options))
    return paths


def single_files(pages: Sequence[SitePage], document: dict, paths: dict[str, Path],
                 max_mb: float) -> list[tuple[Path, Bundle]]:
    """Pack each page into its single file, or refuse them all when one is above ``max_mb``."""
    results = json_text(document).encode("utf-8")
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


def report_languages(flag: str | None, config: Config) -> tuple[str, ...]:
    """Return the languages to build: the --lang flag's, else the config's."""
    if flag is None:
        return languages.resolve(config.lang)
    lang = languages.normalize(flag)
    if lang is None:
        raise ConfigError(f"--lang {flag!r}: {languages.UNKNOWN}")
    return languages.resolve(lang)


def train_runs(
    specs: Sequence[RunSpec], cache: Cache, progress: Progress, device: str = "cpu"
) -> tuple[list[RunResult], bool]:
    """Train and analyse every run, or load them from the cache (then torch is never imported)."""
    key = content_key("train", [s.params.to_dict() for s in specs])
    stored = load_runs(cache, key, specs)
    if stored is not None:
        log.info("training: %d runs from the cache", len(specs))
        return stored, False

    from .analysis import analyse
    from .train import draw_data, resolve_device, train_grid  # imports torch: only when something must train

    device = resolve_device(device)
    data = draw_data(specs)
    max_iters = max(s.params.max_iters for s in specs)
    with progress.stage(f"training {len(specs)} runs together on {device}", total=max_iters) as advance:
        trajectories = train_grid(specs, data, device=device, progress=advance)
    with progress.stage("analysing runs"):
        analyses = [analyse(d, s.params) for s, d in zip(specs, data)]
    results = [RunResult(spec=s, data=d, trajectory=t, analysis=a) for s, d, t, a in zip(specs, data, trajectories, analyses)]
    store_runs(cache, key, results)
    return results, True


def graph_evidence(results: Sequence[RunResult], cache: Cache) -> GraphEvidence | None:
    """Capture the computational-graph evidence from the first run's real data (cached)."""
    if not results:
        return None
    first = results[0]
    key = content_key("graphs", {"x": first.data.x.tolist(), "y": first.data.y.tolist(),
                                 "w0": first.data.w0, "lr": first.spec.params.lr})
    evidence = cache.load_object("graphs", key, GraphEvidence)
    if evidence is None:
        from .evidence import capture_graph_evidence  # imports torch

        evidence = capture_graph_evidence(first.data.x, first.data.y, first.data.w0, first.spec.params.lr)
        cache.store_object("graphs", key, evidence)
    return evidence
