"""Fill the Jinja2 templates and write the pages of the site."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import jinja2

from .config import Config, format_value
from .results import RunResult

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


def write_pages(out: Path, config: Config, results: Sequence[RunResult], context: dict[str, Any]) -> list[Path]:
    """Render every page into ``out`` and return the paths written."""
    env = make_environment()
    by_sweep = {s.name: [r for r in results if r.spec.sweep == s.name] for s in config.sweeps}
    page = env.get_template("index.html").render(config=config, sweeps=config.sweeps, by_sweep=by_sweep, **context)
    path = out / "index.html"
    path.write_text(page, "utf-8")
    (out / ".nojekyll").write_text("")
    return [path]
