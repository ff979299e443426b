"""Read and validate a TOML config into typed objects.

The schema is the dataclasses below. Each option is one field, declared once
with :func:`option`: its type (the annotation), default, bounds or choices, and a
one-line doc. Validation, the commented file ``reportgen init`` writes and the
README's table of options are all made from those fields. Validation collects
every problem and raises one :class:`ConfigError` listing them, one line each.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import tomllib
import typing
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from . import languages
from .exceptions import ConfigError
from .formatting import param

#: The built-in config's sweeps: the course homework. The rest of the built-in config is the schema's defaults.
BUILTIN_SWEEPS = "default_config.toml"
SWEEP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ANIMATE_MODES = ("auto", "all", "none", "corners")
#: Without an ``animate`` key, a sweep of at most this many runs is animated whole, a larger one by its corners.
ANIMATE_LIMIT = 12

Check = Callable[[Any], "str | None"]


def option(default: Any, doc: str, check: Check | None = None, *, choices: tuple[str, ...] = (),
           required: bool = False) -> Any:
    """Declare a config option: its default, a one-line doc, and its bounds, choices or need."""
    metadata = {"doc": doc, "check": check, "choices": choices, "required": required}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=tuple(default) if isinstance(default, list) else default, metadata=metadata)


def finite(v: float) -> str | None:
    return None if math.isfinite(v) else "must be a finite number"


def positive(v: float) -> str | None:
    return finite(v) or (None if v > 0 else "must be > 0")


def non_negative(v: float) -> str | None:
    return finite(v) or (None if v >= 0 else "must be >= 0")


def between(lo: int, hi: int) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


def language(v: str) -> str | None:
    return None if languages.normalize(v) else languages.UNKNOWN


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Params:
    """Every training parameter of one run (the ``[defaults]`` table, and what a sweep varies)."""

    slope: float = option(2.0, "True slope of the line the data is drawn from.", finite)
    intercept: float = option(5.0, "True intercept of that line.", finite)
    threshold: float = option(1.0, "Stop at the first iteration whose loss is below this value.", non_negative)
    lr: float = option(0.05, "Learning rate of the gradient-descent update.", positive)
    max_iters: int = option(1000, "Iteration budget of the training loop.", between(1, 1_000_000))
    seed: int = option(10, "torch.manual_seed for the data, the noise and the initial w.", between(0, 2**63 - 1))
    n_points: int = option(20, "Number of data points.", between(2, 100_000))
    noise: float = option(1.0, "Standard deviation of the Gaussian noise on y.", non_negative)
    x_max: float = option(10.0, "x is drawn uniformly from [0, x_max).", positive)

    def replace(self, **changes: Any) -> "Params":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RenderSettings:
    """How animations are drawn and encoded (the ``[render]`` table)."""

    frame_every: int = option(1, "Draw every this many iterations into the MP4; 1 lets the video's scrubber reach "
                                 "each one.", between(1, 1_000_000))
    formats: tuple[str, ...] = option(("gif", "mp4"), "Animation formats to write; [] trains and tabulates only.",
                                      choices=("gif", "mp4"))
    seconds: float = option(8.0, "About how long a run's video plays; its frame rate follows, within 5 and fps.",
                            between(1, 600))
    fps: int = option(60, "The fastest a video plays, in frames per second: longer runs play longer.", between(5, 120))
    gif_frames: int = option(30, "Frames of a run's GIF preview, evenly spaced from the first to the last.",
                             between(2, 500))
    dpi: int = option(100, "Resolution of the frames, in pixels per inch (8 inches wide).", between(30, 300))


@dataclass(frozen=True)
class Limits:
    """Budgets a build must fit, checked from the config before any work (the ``[limits]`` table; each has a flag)."""

    max_memory_mb: int = option(2000, "Refuse a build whose training would need more memory than this, in MB "
                                      "(estimated).", between(1, 10**9))
    max_results_mb: int = option(200, "Refuse a build whose results.json would be larger than this, in MB (estimated).",
                                 between(1, 10**9))
    max_frames: int = option(50_000, "Refuse a build whose animations would need more frames than this.",
                             between(1, 10**9))
    max_site_mb: int = option(1000, "Refuse a build whose site would be larger than this, in MB (estimated).",
                              between(1, 10**9))
    history_points: int = option(10_000, "Keep at most this many loss values of a run in results.json: evenly "
                                         "spaced, the first and last included.", between(2, 10**9))


def limit_flag(option: str) -> str:
    """Return the command-line flag of a ``[limits]`` option (``max_frames``: ``--max-frames``)."""
    return "--" + option.replace("_", "-")


@dataclass(frozen=True)
class CacheSettings:
    """How much the build cache beside the site keeps (the ``[cache]`` table)."""

    keep_builds: int = option(5, "After a build, remove the cache entries that none of the last this many builds "
                                 "used.", between(1, 10**6))
    max_mb: int = option(1000, "Then remove the least recently used entries while the cache is larger than this, "
                               "in MB (never the ones the build just used).", between(1, 10**9))


@dataclass(frozen=True)
class Sweep:
    """A named grid (one ``[[sweep]]`` table): the Cartesian product of the values in ``vary``."""

    name: str = option("", "URL-safe name of the sweep: letters, digits, '-' and '_'.", required=True)
    title: str = option("", "Heading of the sweep in the report (default: its name).")
    description: str = option("", "Text under the heading.")
    vary: dict[str, tuple[Any, ...]] = option(
        {}, "Parameter = [values]; several parameters make a grid.", required=True)
    animate: str | tuple[str | dict[str, Any], ...] = option(
        "auto", f"\"all\", \"none\", \"corners\", or a list of run ids and {{slope = 5.0}} tables; "
                f"\"auto\": all runs of a sweep of at most {ANIMATE_LIMIT}, else its corners.")


@dataclass(frozen=True)
class Config:
    """A validated config: the top-level keys, then the tables."""

    title: str = option("Gradient descent on a linear regression", "Title of the report.")
    description: str = option("", "Text under the title.")
    lang: str = option(languages.DEFAULT, "Language of the report: en, zh-CN, or all (one folder each); "
                                          "--lang overrides it.", language)
    defaults: Params = field(default_factory=Params)
    sweeps: tuple[Sweep, ...] = ()
    render: RenderSettings = field(default_factory=RenderSettings)
    limits: Limits = field(default_factory=Limits)
    cache: CacheSettings = field(default_factory=CacheSettings)
    builtin: bool = False  # the built-in config (its texts are the project's own, so they are translated)
    source: str = "built-in config"  # where it was read from, for messages
    text: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain JSON-able data."""
        out = {f.name: getattr(self, f.name) for f in options_of(Config)}
        for name in SECTIONS:
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(getattr(self, name)).items()}
        out["sweeps"] = [{k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(s).items()}
                         | {"vary": {k: list(v) for k, v in s.vary.items()}} for s in self.sweeps]
        return out

    def translated(self, gettext: Callable[[str], str]) -> "Config":
        """Return the built-in config with its titles and descriptions in a language; a user's stays as written."""
        if not self.builtin:
            return self

        def tr(text: str) -> str:
            return gettext(text) if text else ""

        sweeps = tuple(dataclasses.replace(s, title=tr(s.title), description=tr(s.description)) for s in self.sweeps)
        return dataclasses.replace(self, title=tr(self.title), description=tr(self.description), sweeps=sweeps)


def options_of(cls: type) -> tuple[dataclasses.Field, ...]:
    """Return the fields of ``cls`` that are config options (declared with :func:`option`)."""
    return tuple(f for f in dataclasses.fields(cls) if "doc" in f.metadata)


#: The tables of a config file and the dataclass each is read into.
SECTIONS: dict[str, type] = {"defaults": Params, "render": RenderSettings, "limits": Limits, "cache": CacheSettings}
#: Options that have moved to another table, and where they are now.
MOVED = {"render.max_frames": "[limits] max_frames"}
TOP_KEYS = (*(f.name for f in options_of(Config)), *SECTIONS, "sweep")
PARAM_NAMES = tuple(f.name for f in options_of(Params))
SWEEP_KEYS = tuple(f.name for f in options_of(Sweep))


# --------------------------------------------------------------------------- loading


def default_config_text() -> str:
    """Return the built-in config: the schema's defaults, commented, around the homework's sweeps."""
    text = resources.files("reportgen").joinpath(BUILTIN_SWEEPS).read_text("utf-8")
    head, sweeps = _split_before_tables(text)
    return "\n".join([
        head,
        commented(Config, only=("lang",), prefix="# "),
        "",
        "# Every parameter of a run, unless a sweep varies it (the course's values).",
        "[defaults]",
        commented(Params),
        "",
        sweeps,
        "",
        "[render]",
        commented(RenderSettings),
        "",
        "# Budgets checked before any work; `reportgen build --dry-run` shows the estimate.",
        "[limits]",
        commented(Limits),
        "",
        "[cache]",
        commented(CacheSettings),
    ]) + "\n"


def _split_before_tables(text: str) -> tuple[str, str]:
    """Split TOML text before its first table, keeping the comments just above that table with it."""
    lines = text.rstrip("\n").split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("["))
    while first > 0 and (not lines[first - 1].strip() or lines[first - 1].startswith("#")):
        first -= 1
    return "\n".join(lines[:first]), "\n".join(lines[first:]).strip("\n")


def commented(cls: type, only: tuple[str, ...] = (), prefix: str = "") -> str:
    """Write the options of ``cls`` as TOML lines, each value commented with its doc."""
    pairs = [(f"{prefix}{f.name} = {toml_value(f.default)}", f.metadata["doc"])
             for f in options_of(cls) if not only or f.name in only]
    width = max(len(code) for code, _ in pairs)
    return "\n".join(f"{code.ljust(width)}  # {doc}" for code, doc in pairs)


def toml_value(value: Any) -> str:
    """Write a default as TOML."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def options_table() -> str:
    """Return every option as a Markdown table, for the README (a test keeps the two the same)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    tables = {"": Config, "defaults.": Params, "sweep.": Sweep} | {f"{name}.": cls for name, cls in SECTIONS.items()}
    for prefix, cls in tables.items():
        for f in options_of(cls):
            default = "required" if f.metadata["required"] else f"`{toml_value(f.default)}`"
            doc = f.metadata["doc"].replace("|", r"\|")
            rows.append(f"| `{prefix}{f.name}` | {default} | {doc} |")
    return "\n".join(rows)


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate ``path``, or the built-in config when None."""
    if path is None:
        return dataclasses.replace(parse_config(default_config_text(), source="built-in config"), builtin=True)
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


_KINDS = {float: "a number", int: "an integer", str: "a string", tuple: "a list", dict: "a table"}
#: Characters that would reach a page unseen or reorder its text: controls (but newline and tab) and bidi overrides.
_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@functools.cache
def _kind(cls: type, name: str) -> type:
    """Return the container or scalar type an option's annotation declares (tuple for tuple[str, ...])."""
    hint = typing.get_type_hints(cls)[name]
    return typing.get_origin(hint) or hint


def _coerce(value: Any, kind: type, key: str, errors: _Errors) -> Any:
    """Return ``value`` as ``kind``, or record an error and return None."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        shown = list(value) if isinstance(value, tuple) else value
        errors.add(key, f"must be {_KINDS[kind]}, got {type(shown).__name__} {shown!r}")
        return None
    if kind is str and (hidden := _HIDDEN.search(value)):
        char = hidden.group()
        name = unicodedata.name(char, "a control character")
        errors.add(key, f"holds U+{ord(char):04X} ({name}), which a page would hide or reorder; remove it")
        return None
    return value


def _check(f: dataclasses.Field, kind: type, value: Any, key: str, errors: _Errors) -> Any:
    """Return a valid value of option ``f``, or record why it is not and return None."""
    value = _coerce(value, kind, key, errors)
    if value is None:
        return None
    choices = f.metadata["choices"]
    if choices:
        bad = [v for v in value if v not in choices]
        if bad:
            errors.add(key, f"unknown value {bad[0]!r}; choose from {', '.join(choices)}")
            return None
        return tuple(dict.fromkeys(value))
    problem = f.metadata["check"](value) if f.metadata["check"] else None
    if problem:
        errors.add(key, f"{problem}, got {value!r}")
        return None
    return value


def _read_options(cls: type, table: dict, at: str, errors: _Errors, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the valid options of ``cls`` found in ``table``; record every unknown key and bad value."""
    fields = {f.name: f for f in options_of(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{at}{key}"
        if key in skip:
            continue
        if where in MOVED:
            errors.add(where, f"has moved: set it as {MOVED[where]}")
            continue
        if key not in fields:
            errors.unknown(where, key, tuple(fields) + skip)
            continue
        checked = _check(fields[key], _kind(cls, key), value, where, errors)
        if checked is not None:
            values[key] = checked
    return values


def _table(data: dict, name: str, errors: _Errors) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        errors.add(name, f"must be a table ([{name}]), got {type(value).__name__}")
        return {}
    return value


def _validate(data: dict, errors: _Errors) -> Config | None:
    top = _read_options(Config, data, "", errors, skip=(*SECTIONS, "sweep"))
    if "lang" in top:
        top["lang"] = languages.normalize(top["lang"])
    sections = {name: cls(**_read_options(cls, _table(data, name, errors), f"{name}.", errors))
                for name, cls in SECTIONS.items()}

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
    return Config(**top, sweeps=tuple(sweeps), **sections)


def _validate_sweep(raw: Any, where: str, errors: _Errors) -> Sweep | None:
    if not isinstance(raw, dict):
        errors.add(where, "must be a table")
        return None
    n_before = len(errors.items)
    values = _read_options(Sweep, raw, f"{where}.", errors, skip=("vary", "animate"))
    name = values.get("name")
    if "name" not in raw:
        errors.add(f"{where}.name", "missing: every sweep needs a name")
    elif name is not None and not SWEEP_NAME_RE.match(name):
        errors.add(f"{where}.name", f"{name!r} is not URL-safe: use letters, digits, '-' and '_'")
    values.setdefault("title", name if isinstance(name, str) else where)
    values["vary"] = _validate_vary(raw.get("vary"), f"{where}.vary", errors)
    values["animate"] = _validate_animate(raw.get("animate", "auto"), f"{where}.animate", errors)
    if len(errors.items) > n_before:
        return None
    return Sweep(**values)


def _validate_vary(vary_raw: Any, at: str, errors: _Errors) -> dict[str, tuple[Any, ...]]:
    """Return parameter -> values; every value is checked as that parameter's option."""
    if vary_raw is None:
        errors.add(at, "missing: give a table of parameter = [values]")
        return {}
    if not isinstance(vary_raw, dict) or not vary_raw:
        errors.add(at, "must be a non-empty table of parameter = [values]")
        return {}
    fields = {f.name: f for f in options_of(Params)}
    vary: dict[str, tuple[Any, ...]] = {}
    for key, values in vary_raw.items():
        where = f"{at}.{key}"
        if key not in fields:
            errors.unknown(where, key, PARAM_NAMES)
            continue
        if not isinstance(values, list):
            errors.add(where, f"must be a list of values, got {type(values).__name__} {values!r}")
            continue
        if not values:
            errors.add(where, "empty list: give at least one value")
            continue
        checked = [_check(fields[key], _kind(Params, key), v, f"{where}[{j}]", errors) for j, v in enumerate(values)]
        if any(c is None for c in checked):
            continue
        dupes = sorted({param(v) for v in checked if checked.count(v) > 1})
        if dupes:
            errors.add(where, f"duplicate value {dupes[0]}: run ids would collide")
            continue
        vary[key] = tuple(checked)
    return vary


def _validate_animate(value: Any, at: str, errors: _Errors) -> Any:
    """Accept a mode, or a list of run ids and {parameter = value} tables."""
    if value in ANIMATE_MODES:
        return value
    if isinstance(value, str):
        modes = ", ".join(repr(m) for m in ANIMATE_MODES[1:])
        errors.add(at, f"unknown mode {value!r}; use {modes} or a list of runs")
        return None
    if not isinstance(value, list):
        errors.add(at, f"must be a mode or a list of run ids and tables, got {type(value).__name__}")
        return None
    picks: list[str | dict[str, Any]] = []
    for j, item in enumerate(value):
        if isinstance(item, str):
            picks.append(item)
        elif isinstance(item, dict):
            picks.append(_read_options(Params, item, f"{at}[{j}].", errors))
        else:
            errors.add(f"{at}[{j}]", f"must be a run id or a table of parameter values, got {item!r}")
    return tuple(picks)


# --------------------------------------------------------------------------- messages of the built-in config


def translatable_texts(config: Config) -> Iterator[str]:
    """Yield the built-in config's own words: its title, description and sweep texts."""
    for text in (config.title, config.description):
        if text:
            yield text
    for sweep in config.sweeps:
        for text in (sweep.title, sweep.description):
            if text:
                yield text


def extract_messages(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel extractor (babel.cfg) for the built-in config's words."""
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    for message in translatable_texts(parse_config(text, source="built-in config")):
        lineno = next((i for i, line in enumerate(lines, 1) if message in line), 0)
        yield lineno, None, message, []
