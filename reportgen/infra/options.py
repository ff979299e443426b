"""What the command line asks of a build, and the names it gives the build's folders and files.

Light on purpose: the command line reads it before deciding whether a build is needed at all.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from reportgen.infra.sources import PACKAGE

DEFAULT_OUT = Path("outputs/site")
CACHE_DIR = ".reportgen-cache"
#: A single file above this many megabytes is refused unless --max-size allows it.
DEFAULT_MAX_MB = 25.0


@dataclass(frozen=True)
class BuildOptions:
    """What the command line asked for."""

    config_path: Path | None = None
    out: Path = DEFAULT_OUT
    jobs: int | None = None
    use_cache: bool = True
    device: str = "cpu"
    executor: str = "local"
    scheduler: str | None = None
    lang: str | None = None  # "en", "zh-CN" or "all", in any spelling; None: the config's ``lang``
    single_file: Path | None = None  # also write the page as one self-contained HTML file (one per language)
    max_size_mb: float = DEFAULT_MAX_MB  # refuse a single file above this size
    pdf: Path | None = None  # also print the page to PDF through Chromium (one per language)
    limits: Mapping[str, int] = field(default_factory=dict)  # [limits] options set by flags


def cache_dir(out: Path) -> Path:
    """Return the cache folder of a site: beside it, shared by every site in the same folder."""
    return out.resolve().parent / CACHE_DIR


def protected_paths(options: BuildOptions) -> list[Path]:
    """Return what an output folder must never contain: the project and the config."""
    protected = [Path.cwd() / "pyproject.toml", PACKAGE]
    if options.config_path is not None:
        protected.append(Path(options.config_path))
    return protected


def rebuild_command(options: BuildOptions) -> str:
    """Return the command that rebuilds this site, naming no folder of this machine."""
    parts = ["reportgen build"]
    if options.config_path is not None:
        parts.append(f"--config {shlex.quote(portable(options.config_path))}")
    if options.out != DEFAULT_OUT:
        parts.append(f"--out {shlex.quote(portable(options.out))}")
    if options.lang is not None:
        parts.append(f"--lang {shlex.quote(options.lang)}")
    if options.single_file is not None:
        parts.append(f"--single-file {shlex.quote(portable(options.single_file))}")
    if options.pdf is not None:
        parts.append(f"--pdf {shlex.quote(portable(options.pdf))}")
    return " ".join(parts)


def portable(path: Path) -> str:
    """Name ``path`` for a published page: relative to the current folder when inside it, else by its name alone."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().name
