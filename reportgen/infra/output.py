"""Stage a site in a temporary folder beside ``--out`` and swap it in at the end.

A build never writes into the live site: a crash, Ctrl-C or SIGTERM at any
stage leaves the previous site as it was. The output folder carries a marker
file, and a folder without it is never replaced.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reportgen.infra.errors import ConfigError, raise_if_interrupted

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("reportgen")

MARKER = ".reportgen-site"
#: The lock file of a folder of sites: one build at a time writes them and their shared cache.
LOCK = ".reportgen.lock"


def check_output_dir(out: Path, protected: list[Path]) -> None:
    """Refuse an output folder that reportgen did not create, or that holds inputs."""
    out = out.resolve()
    for path in protected:
        path = path.resolve()
        if path == out or out in path.parents:
            raise ConfigError(f"--out {out}: contains {path}; choose a folder of its own for the site")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and os.path.ismount(out):  # a Docker volume, a disk: a build swaps the folder in by renaming it
        raise ConfigError(f"--out {out}: is a mount point, which cannot be replaced by renaming; "
                          f"give a folder inside it, e.g. --out {out / 'site'}")
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
    check_regular(flag, path)
    if out == resolved or out in resolved.parents:
        raise ConfigError(f"{flag} {path}: is inside --out {out}, which a build replaces whole; write it elsewhere")
    if any(resolved == p.resolve() for p in protected):
        raise ConfigError(f"{flag} {path}: is an input of the build; choose another file name")
    if not resolved.parent.is_dir():
        raise ConfigError(f"{flag} {path}: folder {resolved.parent} does not exist")


def check_regular(flag: str, path: Path) -> None:
    """Refuse an existing path that is not a regular file (a device, a fifo, a socket, a link to one): the write
    would rename a new file over it (over /dev/stdout, say) instead of writing through it."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise ConfigError(f"{flag} {path}: exists and is {kind}; give the name of a file to write")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success one rename puts it in place, else it is removed.

    So ``path`` is never half-written: a reader sees the old file or the new one. The new file is readable as the
    umask allows, as a file written in place would be (a page to upload or mail must be readable).
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write() does not say what it was writing
            exc.filename = str(path)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (see :func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def check_writable(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder the build could not write in (or its nearest ancestor, to be made in)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".reportgen-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{what} {folder}: cannot write in {existing}: {exc.strerror or exc}; "
                          "choose a folder you can write to") from exc


@contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder``, where sites and their cache live; while another build holds it, say so and wait."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:  # Windows has no flock: builds there are not serialised
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                log.warning("waiting for another build in %s (pid %s) to finish", folder, holder)
                fcntl.flock(fd, fcntl.LOCK_EX)
        # The lock file is never removed: a waiter may hold it open, and a new file would be a second lock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


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
        raise_if_interrupted()  # a signal whose exception was lost still keeps the old site
        _swap(stage, out)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):  # name the site, not the staging folder that is gone
            exc.filename = str(out) if exc.filename is None else str(exc.filename).replace(str(stage), str(out), 1)
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
