"""Fill the Jinja2 templates and write the pages of the site."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
import os
import platform
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import jinja2
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, TOMLLexer

from .config import Config, format_value
from .explain import excess_orders_counts, explain_stop, mode_rows, sweep_findings
from .plots import heatmap_svg, loss_overlay_svg
from .results import RunResult

#: Sweeps larger than this get no table of runs and no overlay of loss curves, only their heatmap.
TABLE_LIMIT = 60
OVERLAY_LIMIT = 12
STATUS_LABELS = {"stopped": "stopped", "budget_exhausted": "budget exhausted", "diverged": "diverged"}


def templates_dir() -> Path:
    """Return the templates folder: inside the installed package, or the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"reportgen templates not found next to {here}")


def make_environment() -> jinja2.Environment:
    """Build the one Jinja2 environment of the project, with its filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["value"] = format_value
    env.filters["status"] = lambda s: STATUS_LABELS.get(s, s)
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
    out: Path, config: Config, results: Sequence[RunResult], evidence: Any, command: str
) -> list[Path]:
    """Render every page and its figures into ``out``; return the pages written."""
    env = make_environment()
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
            (figures / f"loss-{sweep.name}.svg").write_text(loss_overlay_svg(sweep.title, runs), "utf-8")
        if runs and len(sweep.vary) == 2:
            keys = tuple(sweep.vary)
            (figures / f"heatmap-{sweep.name}.svg").write_text(heatmap_svg(sweep.title, keys, runs), "utf-8")
    if evidence is not None:
        (figures / "autograd-graph.svg").write_text(evidence.svg, "utf-8")
        (figures / "forward-graph.svg").write_text(evidence.forward_svg, "utf-8")

    context = {
        "config": config,
        "sweeps": config.sweeps,
        "by_sweep": by_sweep,
        "stops": {r.id: explain_stop(r) for r in results},
        "modes": {name: mode_rows(rs) for name, rs in by_sweep.items()},
        "excess_explains": {name: excess_orders_counts(mode_rows(rs)) for name, rs in by_sweep.items()},
        "findings": {name: sweep_findings(name, rs) for name, rs in by_sweep.items() if rs},
        # The theory table lists the 1-D sweeps; a 2-D sweep has its heatmap instead.
        "all_modes": mode_rows([r for s in config.sweeps if len(s.vary) == 1 and len(by_sweep[s.name]) <= TABLE_LIMIT
                                for r in by_sweep[s.name]]),
        "loop_html": highlight(training_loop_source(), PythonLexer(), formatter),
        "config_html": highlight(config.text or "", TOMLLexer(), formatter),
        "evidence": evidence,
        "table_limit": TABLE_LIMIT,
        "overlay_limit": OVERLAY_LIMIT,
        "versions": versions(),
        "command": command,
        "built": build_time(),
        "defaults": config.defaults,
    }
    page = env.get_template("index.html").render(**context)
    path = out / "index.html"
    path.write_text(page, "utf-8")
    (out / ".nojekyll").write_text("")
    return [path]
