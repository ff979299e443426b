"""A content-addressed build cache: a key is the hash of what produced the entry.

Entries are written under temporary names and committed by a final rename of
their ``meta.json``, written last. An entry without a readable ``meta.json``, or
whose files do not match the sizes and hashes it records, is a miss: it is
rebuilt, never trusted and never a crash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import __version__

log = logging.getLogger("reportgen")

META = "meta.json"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Hash the package's own source and catalogs, so a change to either invalidates every entry."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted([*package.glob("*.py"), *package.glob("locale/*/LC_MESSAGES/*.po")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def content_key(kind: str, payload: Any) -> str:
    """Return the cache key of ``payload`` (JSON-able) for entries of ``kind``."""
    text = json.dumps({"kind": kind, "code": code_version(), "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def file_digest(path: Path) -> str:
    """Hash a file in chunks, so a large animation is never read into memory whole."""
    with open(path, "rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Cache:
    """Entries under ``root``: ``media/<key>/`` folders and ``<kind>/<key>.pickle`` objects."""

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = root
        self.enabled = enabled

    # ------------------------------------------------------------- media folders

    def entry_dir(self, key: str) -> Path:
        return self.root / "media" / key

    def new_entry(self, key: str) -> Path:
        """Return an empty folder to build entry ``key`` in (commit it with :meth:`commit`)."""
        parent = self.root / "media"
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{key}-{os.getpid()}-", suffix=".tmp", dir=parent))

    def remove_stale(self) -> None:
        """Remove half-built entries of renders that were killed."""
        from .output import remove_stale

        remove_stale(self.root / "media", r"\.[0-9a-f]+-(\d+)-\w+\.tmp")

    def commit(self, key: str, workdir: Path, meta: dict[str, Any]) -> Path:
        """Record file sizes and hashes in meta.json, then move the folder into place."""
        files = {p.name: {"size": p.stat().st_size, "sha256": file_digest(p)} for p in sorted(workdir.iterdir())}
        (workdir / META).write_text(json.dumps({**meta, "files": files}, sort_keys=True))
        final = self.entry_dir(key)
        if final.exists():
            shutil.rmtree(final)
        os.replace(workdir, final)
        return final

    def lookup(self, key: str, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """Return a complete entry's meta, or None for a miss (absent, partial, corrupt or lacking ``required``)."""
        if not self.enabled:
            return None
        folder = self.entry_dir(key)
        try:
            meta = json.loads((folder / META).read_text())
            missing = [k for k in required if k not in meta]
            if missing:
                raise KeyError(f"meta.json lacks {missing[0]}")
            for name, info in meta["files"].items():
                path = folder / name
                if path.stat().st_size != info["size"] or file_digest(path) != info["sha256"]:
                    raise ValueError(f"{name} does not match its recorded hash")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("cache entry %s is damaged (%s); rebuilding it", key, exc)
            return None
        return meta

    # ------------------------------------------------------------- text entries

    def load_text(self, kind: str, key: str, suffix: str) -> str | None:
        """Return a stored text, or None for a miss or an unreadable entry."""
        if not self.enabled:
            return None
        try:
            return (self.root / kind / f"{key}{suffix}").read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cache entry %s/%s is damaged (%s); rebuilding it", kind, key, exc)
            return None

    def store_text(self, kind: str, key: str, suffix: str, text: str) -> None:
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"{key}{suffix}", text.encode("utf-8"))

    # ------------------------------------------------------------- pickled objects

    def load_object(self, kind: str, key: str) -> Any | None:
        """Return a stored object, or None for a miss or an unreadable entry."""
        if not self.enabled:
            return None
        path = self.root / kind / f"{key}.pickle"
        try:
            with open(path, "rb") as fp:
                return pickle.load(fp)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a corrupt entry of any kind means "rebuild"
            log.warning("cache entry %s/%s is damaged (%s); rebuilding it", kind, key, exc)
            return None

    def store_object(self, kind: str, key: str, value: Any) -> None:
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"{key}.pickle", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
