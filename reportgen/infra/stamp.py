"""The build stamp: what a site was built from, so that a build with nothing to change stops at once.

A finished build records, in its cache folder, a digest of everything its pages
were made from (the config file, the options that shape the pages, reportgen's
code, catalogs and templates, the installed packages, the Python version and
``SOURCE_DATE_EPOCH``) and the size and modification time of every file it
wrote: the site's, and the single files' and PDFs'. The next ``reportgen build``
of the same site that finds the same digest and every file as it was written
has nothing to do: it says so and stops, before numpy, torch or matplotlib are
imported.

Anything else builds as before: an edited config or template, an upgraded
package, a site file changed, added or removed, ``--force`` or ``--no-cache``.
A build that warned is not stamped, so its next run builds again rather than
skipping past what the warning was about.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from reportgen.infra import output
from reportgen.infra.cache import STAMP_SUFFIX
from reportgen.infra.inputs import MAX_CONFIG_BYTES, read_bounded
from reportgen.infra.options import BuildOptions, cache_dir, rebuild_command
from reportgen.infra.sources import site_sources

log = logging.getLogger("reportgen")

#: Environment variables that change what a build writes (dates, the ffmpeg and the Chromium it uses).
ENVIRONMENT = ("SOURCE_DATE_EPOCH", "IMAGEIO_FFMPEG_EXE", "REPORTGEN_CHROMIUM")


@dataclass(frozen=True)
class UpToDate:
    """A site the last build left as it is now, built from what a build would build it from now."""

    index: Path
    single_files: tuple[tuple[Path, int], ...]  # (path, size in bytes)
    pdfs: tuple[tuple[Path, int], ...]  # (path, pages)


def stamp_path(out: Path) -> Path:
    """Return where the stamp of the site ``out`` is kept: in the cache beside it (``reportgen clean`` drops it)."""
    return cache_dir(out) / f"{out.resolve().name}{STAMP_SUFFIX}"


def inputs_digest(options: BuildOptions) -> str | None:
    """Hash everything a build with ``options`` makes its pages from; None when a path of it cannot be read."""
    config = options.config_path
    try:
        config_digest = None if config is None else _digest_of_config(config)
        if config is not None and config_digest is None:
            return None  # not a config file: the build says so, in one line
        paths = {name: None if path is None else str(path.resolve())
                 for name, path in (("config", config), ("out", options.out), ("single_file", options.single_file),
                                    ("pdf", options.pdf))}
    except (OSError, RuntimeError):  # unreadable, missing, a symlink loop: the build says what is wrong with it
        return None
    payload = {
        "sources": site_sources(),
        "packages": installed_packages(),
        "python": sys.version,
        "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
        "cwd": str(Path.cwd().resolve()),  # the page names the config and folders relative to it
        "command": rebuild_command(options),  # the page shows it, flags spelled as typed
        "config_digest": config_digest,
        **paths,
        "lang": options.lang,
        "max_size_mb": options.max_size_mb,
        "limits": dict(sorted(options.limits.items())),
        "device": options.device,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _digest_of_config(path: Path) -> str | None:
    """The config file's hash, or None when it is not a regular file of at most MAX_CONFIG_BYTES (load_config
    then refuses it in one line)."""
    data = read_bounded(path, MAX_CONFIG_BYTES) if path.is_file() else None
    return None if data is None else hashlib.sha256(data).hexdigest()


def installed_packages() -> list[str]:
    """Return the name and version of every distribution Python can import (``torch-2.13.0+cpu.dist-info``, ...).

    Every folder of ``sys.path`` is looked in, as ``importlib.metadata`` (which the page's versions come from) does.
    """
    names: set[str] = set()
    for folder in sys.path:
        try:
            with os.scandir(folder or ".") as entries:
                names.update(e.name for e in entries if e.name.endswith((".dist-info", ".egg-info")))
        except OSError:  # a zip file, a folder that does not exist
            continue
    return sorted(names)


def files_of(out: Path, extra: Iterable[Path]) -> dict[str, list[int]]:
    """Return the size and modification time of every file of the site ``out`` and of the ``extra`` files."""
    files: dict[str, list[int]] = {}
    paths = [os.path.join(root, name) for root, _, names in os.walk(out) for name in names]
    for path in [*paths, *map(str, extra)]:
        try:
            info = os.stat(path)
        except OSError:
            continue
        files[path] = [info.st_size, info.st_mtime_ns]
    return files


def record(inputs: str, out: Path, single_files: Iterable[Path], pdfs: Iterable[tuple[Path, int]]) -> None:
    """Stamp the site ``out`` as built from ``inputs``, with the single files and PDFs (path, pages) written beside it."""
    out = out.resolve()
    singles, printed = [p.resolve() for p in single_files], [(p.resolve(), pages) for p, pages in pdfs]
    stamp = {"inputs": inputs, "files": files_of(out, [*singles, *(p for p, _ in printed)]),
             "single_files": [str(p) for p in singles], "pdfs": [[str(p), pages] for p, pages in printed]}
    path = stamp_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    output.write_atomic(path, json.dumps(stamp, sort_keys=True).encode())


def forget(out: Path) -> None:
    """Remove the stamp of ``out``: its site is about to change."""
    stamp_path(out).unlink(missing_ok=True)


def up_to_date(options: BuildOptions) -> UpToDate | None:
    """Return the site of ``options`` when the last build left it as it is now and nothing it was made from changed."""
    if not options.use_cache or not stamp_path(options.out).is_file():
        return None
    out = options.out.resolve()
    try:
        with output.build_lock(out.parent):  # a build in progress finishes first: its site is the one to compare
            stamp = _read(stamp_path(out))
            if stamp is None:
                log.debug("building: the stamp of %s is unreadable", out)
                return None
            if stamp["inputs"] != inputs_digest(options):
                log.debug("building: the config, the flags, reportgen, the packages or SOURCE_DATE_EPOCH changed")
                return None
            singles = [Path(p) for p in stamp["single_files"]]
            pdfs = [(Path(p), pages) for p, pages in stamp["pdfs"]]
            now = files_of(out, [*singles, *(p for p, _ in pdfs)])
            if now != stamp["files"]:
                changed = sorted(set(now) ^ set(stamp["files"]) | {k for k in now if now[k] != stamp["files"].get(k)})
                log.debug("building: %d files changed since the last build, first %s", len(changed), changed[0])
                return None
            # Named as this command line names them (the digest holds that they are the same files).
            singles_named = [(_as_given(options.single_file, p), now[str(p)][0]) for p in singles]
            return UpToDate(index=out / "index.html", single_files=tuple(singles_named),
                            pdfs=tuple((_as_given(options.pdf, p), pages) for p, pages in pdfs))
    except OSError as exc:  # the lock or a file cannot be read: the build finds out and says so in one line
        log.debug("building: checking the stamp of %s failed (%s)", out, exc)
        return None


def _as_given(flag: Path | None, path: Path) -> Path:
    """Return ``path``, one language's file of a --single-file or --pdf, named beside the flag's value as typed."""
    return path if flag is None else flag.with_name(path.name)


def _read(path: Path) -> dict[str, Any] | None:
    """Return a stamp, or None for a missing or unreadable one (then the site is simply built)."""
    try:
        stamp = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    shape = {"inputs": str, "files": dict, "single_files": list, "pdfs": list}
    if not isinstance(stamp, dict) or not all(isinstance(stamp.get(k), t) for k, t in shape.items()):
        return None
    if not all(isinstance(p, str) for p in stamp["single_files"]) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int) for p in stamp["pdfs"]):
        return None
    return stamp


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def counting_warnings() -> Iterator[_Counter]:
    """Count the warnings reportgen logs inside the block (a build that warned is not stamped)."""
    counter = _Counter()
    logger = logging.getLogger("reportgen")
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
