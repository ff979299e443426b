"""What each page shows: frozen, per-language view objects, built before anything is written.

The templates read these and nothing else. Every number in them was computed
by an earlier stage; a view only gathers, per language, the run, its animation
in that language, its explanation and the figures.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from markupsafe import Markup

from reportgen.config.layout import SweepLayout, anchor
from reportgen.config.schema import REDACTED, Config, Params, Sweep
from reportgen.core.formatting import run_label
from reportgen.core.i18n import translations
from reportgen.core.languages import LANGUAGES
from reportgen.figures.draw import Figure, Figures
from reportgen.figures.listings import code_listing
from reportgen.figures.marks import heatmap_marks, overlay_marks
from reportgen.infra.cache import Cache
from reportgen.media.captions import Captions, run_captions
from reportgen.media.plan import FramePlan
from reportgen.media.render import RunMedia, site_path
from reportgen.site.embed import data_uri
from reportgen.site.explorer import explorer_css
from reportgen.teach.checkpoints import Checkpoint, checkpoints
from reportgen.teach.evidence import GraphEvidence, source_of
from reportgen.teach.regimes import RegimeMap
from reportgen.teach.remedies import Remedies, remedies
from reportgen.teach.stops import StopExplanation
from reportgen.teach.sweeps import (
    LrProducts,
    ModeRow,
    SharedData,
    SweepFindings,
    mode_rows,
    shared_data,
    sweep_findings,
)
from reportgen.teach.theory import ClosedForm, StudentAnswer, Theory
from reportgen.train import course
from reportgen.train.batched import train_grid
from reportgen.train.course import Title, last_title
from reportgen.train.run import RunResult


@dataclass(frozen=True)
class RunView:
    """One run as a page shows it."""

    result: RunResult
    label: str  # "slope = 5, lr = 0.057"
    stop: StopExplanation
    media: RunMedia | None  # its animation in the page's language; None when it is not animated
    captions: Captions | None  # its animation in words, in the page's language
    chart: Figure | None  # its loss curve among its sweep's
    pick: str = ""  # its explorer tokens, "0-1 1-5" (see reportgen.config.layout)
    gif_frames: int = 0  # frames of its GIF preview (a few dozen, evenly spaced; the MP4 has every iteration)
    card: bool = False  # the page shows it as a card, #run-<id>: every run of an explorer, an animated run of a larger sweep

    @property
    def id(self) -> str:
        return self.result.id

    @property
    def anchor(self) -> str:
        """The id of its card in the page (``#run-<id>``)."""
        return anchor(self.id)

    @property
    def title(self) -> Title | None:
        """What the course's window title printed last of this run (None for a diverged one)."""
        return last_title(self.result.trajectory)

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
    layout: SweepLayout  # what the page shows of it: table, explorer, cards, radio groups
    runs: tuple[RunView, ...]
    findings: SweepFindings
    modes: tuple[ModeRow, ...]
    overlay: Figure | None
    heatmap: Figure | None
    paths: Figure | None = None  # every run's path on one loss surface, for a sweep that compares remedies
    regimes: RegimeMap | None = None  # a 2-D sweep over lr: each run's regime, predicted and measured

    @property
    def overlay_marks(self) -> frozenset[str]:
        """What its loss overlay draws, for the caption to name (figures.marks)."""
        return overlay_marks([r.result for r in self.runs])

    @property
    def heatmap_marks(self) -> frozenset[str]:
        """What its heatmap draws, for the caption to name (figures.marks)."""
        return heatmap_marks([r.result for r in self.runs], self.sweep.dimensions)

    @property
    def animated(self) -> tuple[RunView, ...]:
        return tuple(r for r in self.runs if r.media is not None)

    @property
    def cards(self) -> tuple[RunView, ...]:
        """The runs shown as a card: every run of an explorer, the animated runs of a larger sweep."""
        return tuple(r for r in self.runs if r.card)

    @property
    def tabulated(self) -> bool:
        return self.layout.tabulated

    @property
    def explored(self) -> bool:
        """True when the sweep gets an explorer; a larger one keeps its heatmap and its animated runs' cards."""
        return self.layout.explored

    @property
    def groups(self) -> tuple:
        return self.layout.groups

    @property
    def first(self) -> str:
        """Id of the run the explorer shows first."""
        return self.layout.first

    def anchor(self, run_id: str) -> str | None:
        """Return where the page shows a run: its card (#run-<id>), or nowhere (None)."""
        return anchor(run_id) if self.layout.has_card(run_id) else None

    def links(self, runs: Sequence[tuple]) -> tuple[Markup | str, ...]:
        """Each run's label, a link to its card where the page shows one, from (label, run id, ...) tuples."""
        return tuple(Markup('<a href="#{}">{}</a>').format(self.anchor(run_id), label) if self.anchor(run_id) else label
                     for label, run_id, *_ in runs)


@dataclass(frozen=True)
class PageView:
    """Everything one language's page shows."""

    lang: str
    switch: tuple[tuple[str, str], ...]  # the build's other languages: (code, name in that language)
    config: Config  # in the page's language
    defaults: Params
    sweeps: tuple[SweepView, ...]
    mode_tables: tuple[SweepView, ...]  # the 1-D sweeps, whose runs the theory table lists (a 2-D sweep has its heatmap)
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
    student_settle: int | None = None  # where this report's own animation of the student's run looks finished
    checkpoints: tuple[Checkpoint, ...] = ()  # predict-then-reveal questions, in page order, each with its place
    remedies: Remedies | None = None  # standardising, momentum, Adam and minibatches, from the runs that use them


def page_view(config: Config, lang: str, languages: Sequence[str], results: Sequence[RunResult],
              layouts: Mapping[str, SweepLayout], plans: Mapping[str, FramePlan],
              media: Mapping[tuple[str, str], RunMedia], stops: Mapping[str, StopExplanation],
              theory: Theory, figures: Figures, evidence: GraphEvidence | None, command: str, config_name: str,
              cache: Cache) -> PageView:
    """Gather one language's page from the stages' outputs."""
    sweeps = []
    tr = translations(lang)
    for sweep in config.sweeps:
        layout = layouts[sweep.name]
        runs = [r for r in results if r.spec.sweep == sweep.name]
        views = []
        for r in runs:
            shown = media.get((lang, r.id))
            words = run_captions(r, plans[r.id], stops[r.id], tr) if shown else None
            views.append(RunView(r, run_label(r.spec.varied), stops[r.id], shown, words, figures.charts.get(r.id),
                                 layout.picks[r.id], gif_frames=len(plans[r.id].gif) if shown else 0,
                                 card=layout.has_card(r.id)))
        sweeps.append(SweepView(
            sweep=sweep,
            layout=layout,
            runs=tuple(views),
            findings=sweep_findings(sweep.name, runs),
            modes=tuple(mode_rows(runs)),
            overlay=figures.overlays.get(sweep.name),
            heatmap=figures.heatmaps.get(sweep.name),
            paths=figures.paths.get(sweep.name),
            regimes=figures.regimes.get(sweep.name),
        ))
    tables = tuple(s for s in sweeps if len(s.sweep.dimensions) == 1 and s.tabulated)
    return PageView(
        lang=lang,
        switch=tuple((code, LANGUAGES[code]) for code in languages if code != lang),
        config=config,
        defaults=config.defaults,
        sweeps=tuple(sweeps),
        mode_tables=tables,
        shared=shared_data([view.result for s in tables for view in s.runs]),
        worked=theory.worked,
        products=theory.products,
        student=theory.student,
        evidence=evidence,
        figures=figures,
        course_html=code_listing("\n\n\n".join(source_of(f) for f in course.LISTING), "python", cache),
        loop_html=code_listing(source_of(train_grid), "python", cache),
        config_html=code_listing(redacted(config.text), "toml", cache),
        command=command,
        config_name=config_name,
        versions=versions(),
        built=build_time(),
        explorer_css=explorer_css([g for s in sweeps for g in s.groups]),
        student_settle=stops[theory.student.run_id].settle_iteration if theory.student else None,
        checkpoints=checkpoints(config, results, theory.student, evidence, tr),
        remedies=remedies(results),
    )


def redacted(text: str) -> str:
    """The config as the page lists it: a class secret's line shows that one is set, never its value."""
    return re.sub(r'(?m)^(\s*secret\s*=\s*).*$', lambda m: f'{m.group(1)}"{REDACTED}"', text)


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
