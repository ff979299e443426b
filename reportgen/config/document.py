"""The config as a document: the commented file ``reportgen init`` writes, and the README's table of options."""

from __future__ import annotations

from importlib import resources
from typing import Any

from reportgen.config.schema import (
    SECTIONS,
    CacheSettings,
    Config,
    Limits,
    Params,
    RenderSettings,
    Sweep,
    options_of,
)

#: The built-in config's sweeps: the course homework. The rest of the built-in config is the schema's defaults.
BUILTIN_SWEEPS = "default_config.toml"


def default_config_text() -> str:
    """Return the built-in config: the schema's defaults, commented, around the homework's sweeps."""
    text = resources.files("reportgen.config").joinpath(BUILTIN_SWEEPS).read_text("utf-8")
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
    if isinstance(value, bool):
        return "true" if value else "false"
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
