"""Stage a site in a temporary folder beside ``--out`` and swap it in at the end.

A build never writes into the live site: a crash, Ctrl-C or SIGTERM at any
stage leaves the previous site as it was. The output folder carries a marker
file, and a folder without it is never replaced.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .exceptions import ConfigError

MARKER = ".reportgen-site"


def check_output_dir(out: Path, protected: list[Path]) -> None:
    """Refuse an output folder that reportgen did not create, or that holds inputs."""
    out = out.resolve()
    for path in protected:
        path = path.resolve()
        if path == out or out in path.parents:
            raise ConfigError(f"--out {out}: contains {path}; choose a folder of its own for the site")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ConfigError(
            f"--out {out}: folder exists, is not empty and was not made by reportgen; "
            "choose another folder or empty it"
        )


def language_paths(target: Path, langs: tuple[str, ...]) -> dict[str, Path]:
    """Return where each language's file goes: ``target`` for one language, else report.<lang>.html beside it."""
    if len(langs) == 1:
        return {langs[0]: target}
    return {lang: target.with_name(f"{target.stem}.{lang}{target.suffix}") for lang in langs}


def check_output_file(flag: str, path: Path, out: Path, protected: list[Path]) -> None:
    """Refuse a file to write (--single-file, --pdf) that is a folder, an input, or inside the site."""
    resolved = path.resolve()
    out = out.resolve()
    if resolved.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    if out == resolved or out in resolved.parents:
        raise ConfigError(f"{flag} {path}: is inside --out {out}, which a build replaces whole; write it elsewhere")
    if any(resolved == p.resolve() for p in protected):
        raise ConfigError(f"{flag} {path}: is an input of the build; choose another file name")
    if not resolved.parent.is_dir():
        raise ConfigError(f"{flag} {path}: folder {resolved.parent} does not exist")


def write_file(path: Path, data: bytes) -> None:
    """Write a file for the user (--single-file): through a temporary name and a rename, readable as umask allows."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; a page to upload or mail must be readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(parent: Path, pattern: str) -> list[Path]:
    """Remove folders left by builds that no longer run.

    ``pattern`` is a regular expression for the whole folder name whose first group is
    the pid of the build that made it; a folder of a live build is kept.
    """
    removed = []
    for path in parent.iterdir() if parent.is_dir() else ():
        match = re.fullmatch(pattern, path.name)
        if path.is_dir() and match and not pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success, swap it in place of ``out``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    name = re.escape(out.name)
    remove_stale(out.parent, rf"\.{name}\.(?:building|old)-(\d+)-\w+")  # left by a killed build
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-{os.getpid()}-", dir=out.parent))
    try:
        (stage / MARKER).write_text("This folder is written by reportgen; a build replaces it whole.\n")
        yield stage
        _swap(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap(stage: Path, out: Path) -> None:
    """Replace ``out`` by ``stage`` with renames, so the site is never half-written."""
    os.chmod(stage, 0o755)  # mkdtemp makes it 0700; a served site must be readable
    if not out.exists():
        os.replace(stage, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)
