"""What each page shows: frozen, per-language view objects, built before anything is written.

The templates read these and nothing else. Every number in them was computed
by an earlier stage; a view only gathers, per language, the run, its animation
in that language, its explanation and the figures.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
import os
import platform
from dataclasses import dataclass
from importlib import resources
from typing import Mapping, Sequence

from .captions import Captions, run_captions
from .config import Config, Params, Sweep
from .evidence import GraphEvidence
from .explain import (ClosedForm, LrProducts, ModeRow, SharedData, StopExplanation, StudentAnswer, SweepFindings, Theory,
                      mode_rows, shared_data, sweep_findings)
from .embed import data_uri
from .explorer import Group, course_run, explorable, explorer_css, picks, radio_groups
from .cache import Cache
from .figures import Figure, Figures, code_listing
from .formatting import run_label
from .i18n import translations
from .languages import LANGUAGES
from .render import RunMedia, site_path
from .results import RunResult

#: Sweeps larger than this get no table of runs, only their heatmap; every run stays in results.json.
TABLE_LIMIT = 60


@dataclass(frozen=True)
class RunView:
    """One run as a page shows it."""

    result: RunResult
    label: str  # "slope = 5, lr = 0.057"
    stop: StopExplanation
    media: RunMedia | None  # its animation in the page's language; None when it is not animated
    captions: Captions | None  # its animation in words, in the page's language
    chart: Figure | None  # its loss curve among its sweep's
    pick: str = ""  # its explorer tokens, "0-1 1-5" (see reportgen.explorer)
    card: bool = False  # the page shows it as a card, #run-<id>: every run of an explorer, an animated run of a larger sweep

    @property
    def id(self) -> str:
        return self.result.id

    @property
    def track(self) -> str:
        """Return the src of this run's caption track: the captions themselves, as a data: URI, since a page
        opened from disk loads no track from a file: URL (the .vtt file is written beside the video too)."""
        return data_uri(self.url("vtt"), self.captions.webvtt())

    def url(self, fmt: str) -> str | None:
        """Return the site path of this run's gif, mp4, poster or vtt (its captions), or None."""
        if fmt == "vtt":
            return site_path(self.id, fmt) if self.captions and self.url("mp4") else None
        return self.media.url(self.id, fmt) if self.media else None


@dataclass(frozen=True)
class SweepView:
    """One sweep: its runs, what they show together, and its figures."""

    sweep: Sweep
    runs: tuple[RunView, ...]
    findings: SweepFindings
    modes: tuple[ModeRow, ...]
    overlay: Figure | None
    heatmap: Figure | None
    groups: tuple[Group, ...]  # the explorer's radio groups: one per parameter with two or more values
    first: str  # id of the run the explorer shows first: the course's own where the sweep holds it

    @property
    def animated(self) -> tuple[RunView, ...]:
        return tuple(r for r in self.runs if r.media is not None)

    @property
    def tabulated(self) -> bool:
        return len(self.runs) <= TABLE_LIMIT

    @property
    def explored(self) -> bool:
        """True when the sweep gets an explorer; a larger one keeps its heatmap and its animated runs' cards."""
        return explorable(self.runs)

    def anchor(self, run_id: str) -> str | None:
        """Return where the page shows a run: its card (#run-<id>), or nowhere (None)."""
        return next((f"run-{r.id}" for r in self.runs if r.id == run_id and r.card), None)


@dataclass(frozen=True)
class PageView:
    """Everything one language's page shows."""

    lang: str
    switch: tuple[tuple[str, str], ...]  # the build's other languages: (code, name in that language)
    config: Config  # in the page's language
    defaults: Params
    sweeps: tuple[SweepView, ...]
    theory: tuple[SweepView, ...]  # the 1-D sweeps, whose runs the theory table lists (a 2-D sweep has its heatmap)
    shared: SharedData | None  # the Hessian facts every run of the theory table shares, if they share data
    worked: ClosedForm | None  # the closed form, worked on the course's run
    products: LrProducts | None  # iterations x lr, for runs that differ only in lr
    student: StudentAnswer | None  # the student's question, when the build has a run below its floor
    evidence: GraphEvidence | None
    figures: Figures
    course_html: str  # the course's loop, one run at a time, highlighted
    loop_html: str  # the batched training loop, highlighted
    config_html: str  # the config, highlighted
    command: str  # the command that rebuilds the site, with no absolute path in it
    config_name: str  # where the config came from, as the page names it (no absolute path either)
    versions: Mapping[str, str]
    built: str
    explorer_css: str  # the rules that make this page's explorers follow their radio buttons


def page_view(config: Config, lang: str, languages: Sequence[str], results: Sequence[RunResult],
              media: Mapping[tuple[str, str], RunMedia], stops: Mapping[str, StopExplanation],
              theory: Theory, figures: Figures, evidence: GraphEvidence | None, command: str, config_name: str,
              cache: Cache) -> PageView:
    """Gather one language's page from the stages' outputs."""
    sweeps = []
    tr = translations(lang)
    for sweep in config.sweeps:
        runs = [r for r in results if r.spec.sweep == sweep.name]
        first = course_run(runs) if runs else None
        explored = explorable(runs)
        groups = radio_groups(sweep.name, runs, first) if first and explored else ()
        views = []
        for r in runs:
            shown = media.get((lang, r.id))
            words = run_captions(r, stops[r.id], config.render, tr) if shown else None
            views.append(RunView(r, run_label(r.spec.varied), stops[r.id], shown, words, figures.charts.get(r.id),
                                 picks(r, groups), card=explored or shown is not None))
        sweeps.append(SweepView(
            sweep=sweep,
            runs=tuple(views),
            findings=sweep_findings(sweep.name, runs),
            modes=tuple(mode_rows(runs)),
            overlay=figures.overlays.get(sweep.name),
            heatmap=figures.heatmaps.get(sweep.name),
            groups=groups,
            first=first.id if first else "",
        ))
    tables = tuple(s for s in sweeps if len(s.sweep.vary) == 1 and s.tabulated)
    return PageView(
        lang=lang,
        switch=tuple((code, LANGUAGES[code]) for code in languages if code != lang),
        config=config,
        defaults=config.defaults,
        sweeps=tuple(sweeps),
        theory=tables,
        shared=shared_data([view.result for s in tables for view in s.runs]),
        worked=theory.worked,
        products=theory.products,
        student=theory.student,
        evidence=evidence,
        figures=figures,
        course_html=code_listing(function_source("course.py", "course_loop"), "python", cache),
        loop_html=code_listing(function_source("train.py", "train_grid"), "python", cache),
        config_html=code_listing(config.text, "toml", cache),
        command=command,
        config_name=config_name,
        versions=versions(),
        built=build_time(),
        explorer_css=explorer_css([g for s in sweeps for g in s.groups]),
    )


def function_source(module: str, name: str) -> str:
    """Return the source of a function of the package, read from its file (nothing imported)."""
    text = resources.files("reportgen").joinpath(module).read_text("utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    raise LookupError(f"{module} has no function {name}")


def build_time() -> str:
    """Return the build date: SOURCE_DATE_EPOCH's when set (reproducible), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch and epoch.isdigit()
              else dt.datetime.now(dt.timezone.utc))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def versions(*extra: str) -> dict[str, str]:
    """Return the versions of the software that made the report (and of the ``extra`` packages)."""
    out = {"Python": platform.python_version()}
    for name in ("reportgen", "torch", "matplotlib", "numpy", "imageio-ffmpeg", *extra):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
