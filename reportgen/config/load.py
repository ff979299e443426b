"""Read and validate a TOML config into the schema's typed objects.

Validation collects every problem and raises one :class:`ConfigError` listing them, one line each
(``file: key: what is wrong``); an unknown key names the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import tomllib
import typing
import unicodedata
from pathlib import Path
from typing import IO, Any, Iterator

from reportgen.config.document import default_config_text
from reportgen.config.schema import (
    ANIMATE_MODES,
    PARAM_NAMES,
    SECTIONS,
    Config,
    Params,
    Sweep,
    options_of,
)
from reportgen.core import languages
from reportgen.core.formatting import param
from reportgen.infra.errors import ConfigError
from reportgen.infra.inputs import MAX_CONFIG_BYTES, read_bounded

SWEEP_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # fullmatch: "$" would let a final newline in
#: Options that have moved to another table, and where they are now.
MOVED = {"render.max_frames": "[limits] max_frames"}


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate ``path``, or the built-in config when None."""
    if path is None:
        return dataclasses.replace(parse_config(default_config_text(), source="built-in config"), builtin=True)
    path = Path(path)
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES)
        if raw is None:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1_000_000} MB: not a config file")
        text = raw.decode("utf-8")
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
    except RecursionError:
        raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None
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


_KINDS = {float: "a number", int: "an integer", str: "a string", tuple: "a list", dict: "a table",
          bool: "true or false"}
#: Characters that would reach a page unseen or reorder its text: controls (but newline and tab) and bidi overrides.
HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\U000e0000-\U000e007f]")


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
    if kind is bool and isinstance(value, bool):
        return value
    if not isinstance(value, kind) or isinstance(value, bool):
        shown = list(value) if isinstance(value, tuple) else value
        errors.add(key, f"must be {_KINDS[kind]}, got {type(shown).__name__} {shown!r}")
        return None
    if kind is str and (hidden := HIDDEN.search(value)):
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
    if choices and kind is str:
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.add(key, f"unknown value {value!r}; {hint}choose from {', '.join(choices)}")
            return None
        return value
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
    for i, sweep in enumerate(sweeps):
        _check_batches(sweep, sections["defaults"], f"sweep[{i}]", errors)

    if errors.items:
        return None
    return Config(**top, sweeps=tuple(sweeps), **sections)


def _check_batches(sweep: Sweep, defaults: Params, where: str, errors: _Errors) -> None:
    """A run's minibatch cannot hold more points than the run has (from the lists alone: no grid is built)."""
    sizes = sweep.vary.get("batch_size", (defaults.batch_size,))
    points = sweep.vary.get("n_points", (defaults.n_points,))
    if max(sizes) > min(points):
        key = "vary.batch_size" if "batch_size" in sweep.vary else "vary.n_points" if "n_points" in sweep.vary else ""
        errors.add(f"{where}.{key}".rstrip("."), f"batch_size {max(sizes)} is above n_points {min(points)}: "
                                                 f"a minibatch takes at most every point (0: all of them)")


def _validate_sweep(raw: Any, where: str, errors: _Errors) -> Sweep | None:
    if not isinstance(raw, dict):
        errors.add(where, "must be a table")
        return None
    n_before = len(errors.items)
    values = _read_options(Sweep, raw, f"{where}.", errors, skip=("vary", "animate"))
    name = values.get("name")
    if "name" not in raw:
        errors.add(f"{where}.name", "missing: every sweep needs a name")
    elif name is not None and not SWEEP_NAME_RE.fullmatch(name):
        errors.add(f"{where}.name", f"{name!r} is not URL-safe: use letters, digits, '-' and '_', at most 64")
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
