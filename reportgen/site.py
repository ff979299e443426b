"""Fill the Jinja2 templates and write the pages of the site."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
import os
import platform
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import jinja2
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, TOMLLexer

from .config import Config, format_value
from .explain import excess_orders_counts, explain_stop, mode_rows, sweep_findings
from .graphs import AUTOGRAD_CAPTION, AUTOGRAD_TITLE, FORWARD_CAPTION, FORWARD_TITLE, render_svg
from .i18n import DEFAULT_LANG, LANGUAGES, N_, Translations, translations
from .plots import heatmap_svg, loss_overlay_svg
from .results import RunResult

#: Sweeps larger than this get no table of runs and no overlay of loss curves, only their heatmap.
TABLE_LIMIT = 60
OVERLAY_LIMIT = 12
STATUS_LABELS = {"stopped": N_("stopped"), "budget_exhausted": N_("budget exhausted"), "diverged": N_("diverged")}


def templates_dir() -> Path:
    """Return the templates folder: inside the installed package, or the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"reportgen templates not found next to {here}")


def make_environment(tr: Translations | None = None) -> jinja2.Environment:
    """Build the one Jinja2 environment of the project, with its filters and the translations ``tr``."""
    tr = tr or translations(DEFAULT_LANG)
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["value"] = format_value
    # Whitespace inside {% trans %} is collapsed, as babel.cfg extracts it (trimmed = true).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
    env.filters["status"] = lambda s: tr.gettext(STATUS_LABELS[s]) if s in STATUS_LABELS else s
    env.filters["varied"] = lambda varied: ", ".join(f"{k} = {format_value(v)}" for k, v in varied.items())
    return env


def format_number(value: float | int | None, digits: int = 4) -> str:
    """Format a number for a page: integers as is, floats to ``digits`` significant digits."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value:.{digits}g}"


def training_loop_source() -> str:
    """Return the source of the batched training function, read from the package (torch not imported)."""
    text = resources.files("reportgen").joinpath("train.py").read_text("utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == "train_grid":
            return ast.get_source_segment(text, node) or ""
    return ""


def build_time() -> str:
    """Return the build date: SOURCE_DATE_EPOCH's when set (reproducible), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch and epoch.isdigit() else dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def versions() -> dict[str, str]:
    """Return the versions of the software that made the report."""
    out = {"Python": platform.python_version()}
    for name in ("reportgen", "torch", "matplotlib", "numpy", "imageio-ffmpeg"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_pages(
    out: Path, config: Config, results: Sequence[RunResult], evidence: Any, command: str,
    lang: str = DEFAULT_LANG, languages: Sequence[str] = (DEFAULT_LANG,),
) -> list[Path]:
    """Render every page and its figures into ``out`` in ``lang``; return the pages written.

    ``languages`` lists every language of this build: each page links to the others (``../<lang>/``).
    """
    tr = translations(lang)
    env = make_environment(tr)
    assets, figures = out / "assets", out / "figures"
    assets.mkdir(exist_ok=True)
    figures.mkdir(exist_ok=True)
    formatter = HtmlFormatter(cssclass="highlight")
    css = (templates_dir() / "style.css").read_text("utf-8") + "\n" + formatter.get_style_defs(".highlight")
    (assets / "style.css").write_text(css, "utf-8")

    by_sweep = {s.name: [r for r in results if r.spec.sweep == s.name] for s in config.sweeps}
    for sweep in config.sweeps:
        runs = by_sweep[sweep.name]
        if runs and len(runs) <= OVERLAY_LIMIT:
            (figures / f"loss-{sweep.name}.svg").write_text(loss_overlay_svg(sweep.title, runs, tr), "utf-8")
        if runs and len(sweep.vary) == 2:
            keys = tuple(sweep.vary)
            (figures / f"heatmap-{sweep.name}.svg").write_text(heatmap_svg(sweep.title, keys, runs, tr), "utf-8")
    if evidence is not None:
        leaf = tr.gettext("leaf")
        (figures / "autograd-graph.svg").write_text(render_svg(
            evidence.autograd, tr.gettext(AUTOGRAD_TITLE), tr.gettext(AUTOGRAD_CAPTION), leaf), "utf-8")
        (figures / "forward-graph.svg").write_text(render_svg(
            evidence.forward, tr.gettext(FORWARD_TITLE), tr.gettext(FORWARD_CAPTION), leaf), "utf-8")

    modes = {name: mode_rows(rs) for name, rs in by_sweep.items()}
    context = {
        "config": config,
        "sweeps": config.sweeps,
        "by_sweep": by_sweep,
        "stops": {r.id: explain_stop(r) for r in results},
        "modes": modes,
        "excess_explains": {name: excess_orders_counts(rows) for name, rows in modes.items()},
        "findings": {name: sweep_findings(name, rs) for name, rs in by_sweep.items() if rs},
        # The theory table lists the 1-D sweeps; a 2-D sweep has its heatmap instead.
        "all_modes": [row for s in config.sweeps if len(s.vary) == 1 and len(by_sweep[s.name]) <= TABLE_LIMIT
                      for row in modes[s.name]],
        "loop_html": highlight(training_loop_source(), PythonLexer(), formatter),
        "config_html": highlight(config.text or "", TOMLLexer(), formatter),
        "evidence": evidence,
        "table_limit": TABLE_LIMIT,
        "overlay_limit": OVERLAY_LIMIT,
        "versions": versions(),
        "command": command,
        "built": build_time(),
        "defaults": config.defaults,
        "lang": lang,
        # The other languages of this build, each a sibling folder.
        "switch": [(code, LANGUAGES[code]) for code in languages if code != lang],
    }
    page = env.get_template("index.html").render(**context)
    path = out / "index.html"
    path.write_text(page, "utf-8")
    (out / ".nojekyll").write_text("")
    return [path]


@dataclass(frozen=True)
class LanguageLink:
    """One language of a multi-language build, as the root page lists it."""

    lang: str
    name: str  # the language's name in that language
    title: str  # the report's title in that language


def write_language_index(out: Path, sites: Sequence[tuple[str, Config]]) -> Path:
    """Write ``out/index.html``: a plain page linking to each language's folder (no script, no redirect)."""
    links = [LanguageLink(lang, LANGUAGES[lang], config.title) for lang, config in sites]
    page = make_environment().get_template("languages.html").render(sites=links)
    path = out / "index.html"
    path.write_text(page, "utf-8")
    (out / ".nojekyll").write_text("")
    return path
