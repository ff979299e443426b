"""Read and validate a TOML config into typed objects.

Every option is declared once below, with its type, default and a one-line
description. Validation collects every problem it finds and raises a single
:class:`ConfigError` listing them all, one line each.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from .exceptions import ConfigError
from .i18n import LANGUAGES

DEFAULT_CONFIG_NAME = "default_config.toml"
SWEEP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
FORMATS = ("gif", "mp4")


@dataclass(frozen=True)
class Option:
    """One config option: its type, default, bounds check and description."""

    name: str
    kind: type
    default: Any
    doc: str
    check: Callable[[Any], str | None] = lambda v: None


def _finite(v: float) -> str | None:
    return None if math.isfinite(v) else "must be a finite number"


def _positive(v: float) -> str | None:
    return _finite(v) or (None if v > 0 else "must be > 0")


def _non_negative(v: float) -> str | None:
    return _finite(v) or (None if v >= 0 else "must be >= 0")


def _between(lo: int, hi: int) -> Callable[[int], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


PARAM_OPTIONS: tuple[Option, ...] = (
    Option("slope", float, 2.0, "True slope of the line the data is drawn from.", _finite),
    Option("intercept", float, 5.0, "True intercept of that line.", _finite),
    Option("threshold", float, 1.0, "Stop when the loss is below this value.", _non_negative),
    Option("lr", float, 0.05, "Learning rate of the gradient-descent update.", _positive),
    Option("max_iters", int, 1000, "Iteration budget of the training loop.", _between(1, 1_000_000)),
    Option("seed", int, 10, "torch.manual_seed for the data, noise and initial w.", _between(0, 2**63 - 1)),
    Option("n_points", int, 20, "Number of data points.", _between(2, 100_000)),
    Option("noise", float, 1.0, "Standard deviation of the Gaussian noise on y.", _non_negative),
    Option("x_max", float, 10.0, "x is drawn uniformly from [0, x_max).", _positive),
)
PARAM_NAMES = tuple(o.name for o in PARAM_OPTIONS)

RENDER_OPTIONS: tuple[Option, ...] = (
    Option("frame_every", int, 20, "Draw a frame every this many iterations.", _between(1, 1_000_000)),
    Option("formats", list, ["gif", "mp4"], "Animation formats to write: gif, mp4."),
    Option("fps", int, 10, "Frames per second of the animations.", _between(1, 60)),
    Option("dpi", int, 80, "Resolution of the frames.", _between(30, 300)),
    Option("max_frames", int, 20_000, "Budget of frames over all animations of a build.", _between(1, 10_000_000)),
)

TOP_KEYS = ("title", "description", "lang", "defaults", "sweep", "render")
#: Languages a config may ask for (``--lang all`` on the command line builds every one).
LANGS = tuple(LANGUAGES)
SWEEP_KEYS = ("name", "title", "description", "vary", "animate")
ANIMATE_MODES = ("all", "none", "corners")
#: Without an ``animate`` key, a sweep of at most this many runs is animated whole, a larger one by its corners.
ANIMATE_LIMIT = 12


@dataclass(frozen=True)
class Params:
    """Every training parameter of one run."""

    slope: float = 2.0
    intercept: float = 5.0
    threshold: float = 1.0
    lr: float = 0.05
    max_iters: int = 1000
    seed: int = 10
    n_points: int = 20
    noise: float = 1.0
    x_max: float = 10.0

    def replace(self, **changes: Any) -> "Params":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Sweep:
    """A named grid: the Cartesian product of the values in ``vary``."""

    name: str
    title: str
    description: str
    vary: dict[str, tuple[Any, ...]]
    animate: str | tuple[str | dict[str, Any], ...] = "auto"


@dataclass(frozen=True)
class RenderSettings:
    """How animations are drawn and encoded."""

    frame_every: int = 20
    formats: tuple[str, ...] = FORMATS
    fps: int = 10
    dpi: int = 80
    max_frames: int = 20_000


@dataclass(frozen=True)
class Config:
    """A validated config."""

    title: str
    description: str
    defaults: Params
    sweeps: tuple[Sweep, ...]
    render: RenderSettings
    lang: str = "en"  # the language of the report; --lang overrides it
    source: str = "<default>"
    text: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain JSON-able data."""
        return {
            "title": self.title,
            "description": self.description,
            "lang": self.lang,
            "defaults": self.defaults.to_dict(),
            "sweeps": [
                {
                    "name": s.name,
                    "title": s.title,
                    "description": s.description,
                    "vary": {k: list(v) for k, v in s.vary.items()},
                    "animate": s.animate if isinstance(s.animate, str) else list(s.animate),
                }
                for s in self.sweeps
            ],
            "render": dataclasses.asdict(self.render) | {"formats": list(self.render.formats)},
        }


# --------------------------------------------------------------------------- loading


def default_config_text() -> str:
    """Return the text of the config embedded in the package."""
    return resources.files("reportgen").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate ``path``, or the embedded default config when None."""
    if path is None:
        return parse_config(default_config_text(), source="<default>")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse TOML text and validate it, reporting every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    errors = _Errors(source)
    config = _validate(data, errors)
    errors.raise_if_any()
    assert config is not None
    return dataclasses.replace(config, source=source, text=text)


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, key: str, problem: str) -> None:
        self.items.append(f"{self.source}: {key}: {problem}")

    def unknown(self, key: str, name: str, valid: tuple[str, ...]) -> None:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
        self.add(key, f"unknown key{hint}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(*self.items)


def _type_name(kind: type) -> str:
    return {float: "a number", int: "an integer", str: "a string", list: "a list", dict: "a table"}[kind]


def _coerce(value: Any, kind: type, key: str, errors: _Errors) -> Any:
    """Return ``value`` as ``kind``, or record an error and return None."""
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        errors.add(key, f"must be {_type_name(kind)}, got {type(value).__name__} {value!r}")
        return None
    return value


def _check_value(option: Option, value: Any, key: str, errors: _Errors) -> Any:
    value = _coerce(value, option.kind, key, errors)
    if value is None:
        return None
    problem = option.check(value)
    if problem:
        errors.add(key, f"{problem}, got {value!r}")
        return None
    return value


def _table(data: dict, name: str, errors: _Errors) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        errors.add(name, f"must be a table ([{name}]), got {type(value).__name__}")
        return {}
    return value


def _validate(data: dict, errors: _Errors) -> Config | None:
    for key in data:
        if key not in TOP_KEYS:
            errors.unknown(key, key, TOP_KEYS)

    title = _coerce(data.get("title", "Gradient descent on a linear regression"), str, "title", errors)
    description = _coerce(data.get("description", ""), str, "description", errors)
    lang = _coerce(data.get("lang", "en"), str, "lang", errors)
    if lang is not None and lang not in LANGS:
        errors.add("lang", f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")

    params = Params(**_check_params(_table(data, "defaults", errors), "defaults", errors))

    render = _validate_render(_table(data, "render", errors), errors)

    raw_sweeps = data.get("sweep", [])
    if not isinstance(raw_sweeps, list):
        errors.add("sweep", "must be an array of tables ([[sweep]])")
        raw_sweeps = []
    sweeps = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_sweeps):
        sweep = _validate_sweep(raw, f"sweep[{i}]", errors)
        if sweep is None:
            continue
        if sweep.name in seen:
            errors.add(f"sweep[{i}].name", f"duplicate sweep name '{sweep.name}' (also sweep[{seen[sweep.name]}])")
            continue
        seen[sweep.name] = i
        sweeps.append(sweep)
    if not raw_sweeps:
        errors.add("sweep", "no [[sweep]] table: add at least one sweep")

    if errors.items:
        return None
    return Config(title=title, description=description, defaults=params, sweeps=tuple(sweeps), render=render,
                  lang=lang)


def _check_params(table: dict, at: str, errors: _Errors) -> dict[str, Any]:
    """Return the valid training parameters of ``table``; record every bad key or value."""
    options = {o.name: o for o in PARAM_OPTIONS}
    checked: dict[str, Any] = {}
    for key, value in table.items():
        if key not in options:
            errors.unknown(f"{at}.{key}", key, PARAM_NAMES)
            continue
        value = _check_value(options[key], value, f"{at}.{key}", errors)
        if value is not None:
            checked[key] = value
    return checked


def _validate_render(table: dict, errors: _Errors) -> RenderSettings:
    options = {o.name: o for o in RENDER_OPTIONS}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in options:
            errors.unknown(f"render.{key}", key, tuple(options))
            continue
        checked = _check_value(options[key], value, f"render.{key}", errors)
        if checked is None:
            continue
        if key == "formats":
            bad = [f for f in checked if f not in FORMATS]
            if bad:
                errors.add("render.formats", f"unknown format {bad[0]!r}; choose from {', '.join(FORMATS)}")
                continue
            checked = tuple(dict.fromkeys(checked))
        values[key] = checked
    return RenderSettings(**values)


def _validate_sweep(raw: Any, where: str, errors: _Errors) -> Sweep | None:
    if not isinstance(raw, dict):
        errors.add(where, "must be a table")
        return None
    n_before = len(errors.items)
    for key in raw:
        if key not in SWEEP_KEYS:
            errors.unknown(f"{where}.{key}", key, SWEEP_KEYS)
    name = raw.get("name")
    if name is None:
        errors.add(f"{where}.name", "missing: every sweep needs a name")
    elif _coerce(name, str, f"{where}.name", errors) is not None and not SWEEP_NAME_RE.match(name):
        errors.add(f"{where}.name", f"{name!r} is not URL-safe: use letters, digits, '-' and '_'")
    label = name if isinstance(name, str) else where
    title = _coerce(raw.get("title", label), str, f"{where}.title", errors)
    description = _coerce(raw.get("description", ""), str, f"{where}.description", errors)

    options = {o.name: o for o in PARAM_OPTIONS}
    vary_raw = raw.get("vary")
    vary: dict[str, tuple[Any, ...]] = {}
    if vary_raw is None:
        errors.add(f"{where}.vary", "missing: give a table of parameter = [values]")
    elif not isinstance(vary_raw, dict) or not vary_raw:
        errors.add(f"{where}.vary", "must be a non-empty table of parameter = [values]")
    else:
        for key, values in vary_raw.items():
            at = f"{where}.vary.{key}"
            if key not in options:
                errors.unknown(at, key, PARAM_NAMES)
                continue
            if not isinstance(values, list):
                errors.add(at, f"must be a list of values, got {type(values).__name__} {values!r}")
                continue
            if not values:
                errors.add(at, "empty list: give at least one value")
                continue
            checked = [_check_value(options[key], v, f"{at}[{j}]", errors) for j, v in enumerate(values)]
            if any(c is None for c in checked):
                continue
            dupes = sorted({format_value(v) for v in checked if checked.count(v) > 1})
            if dupes:
                errors.add(at, f"duplicate value {dupes[0]}: run ids would collide")
                continue
            vary[key] = tuple(checked)
    animate = _validate_animate(raw.get("animate", "auto"), f"{where}.animate", errors)
    if len(errors.items) > n_before:
        return None
    return Sweep(name=name, title=title, description=description, vary=vary, animate=animate)


def _validate_animate(value: Any, at: str, errors: _Errors) -> Any:
    """Accept "all", "none", "corners", or a list of run ids and {parameter = value} tables."""
    if value == "auto" or value in ANIMATE_MODES:
        return value
    if isinstance(value, str):
        errors.add(at, f"unknown mode {value!r}; use {', '.join(repr(m) for m in ANIMATE_MODES)} or a list of runs")
        return None
    if not isinstance(value, list):
        errors.add(at, f"must be a mode or a list of run ids and tables, got {type(value).__name__}")
        return None
    picks: list[str | dict[str, Any]] = []
    for j, item in enumerate(value):
        if isinstance(item, str):
            picks.append(item)
        elif isinstance(item, dict):
            picks.append(_check_params(item, f"{at}[{j}]", errors))
        else:
            errors.add(f"{at}[{j}]", f"must be a run id or a table of parameter values, got {item!r}")
    return tuple(picks)


def format_value(value: Any) -> str:
    """Format a parameter value compactly and round-trippably (0.1, 1e-05, 5)."""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
