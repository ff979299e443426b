"""A content-addressed build cache: a key is the hash of what produced the entry.

Entries are folders, ``<kind>/<key>/``, built under a temporary name and
committed by a final rename once their ``meta.json``, which records each file's
size and hash, is written; figures and code listings are single text files,
written atomically. An entry without a readable ``meta.json``, whose files do
not match their hashes, or whose data does not match its schema, is a miss: it
is rebuilt, never trusted and never a crash. Nothing is pickled: arrays are
``.npz`` files read with ``allow_pickle=False``, everything else is JSON.

The cache is bounded: each build records which entries it used in
``usage.json``, then removes the entries no build used for ``keep_builds``
builds, and the least recently used ones while the cache is larger than its cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from reportgen.infra import output
from reportgen.infra.output import write_atomic
from reportgen.infra.sources import code_version

log = logging.getLogger("reportgen")
T = TypeVar("T")

META = "meta.json"
USAGE = "usage.json"
MEDIA = "media"
#: What backup tools look for to skip a cache folder (https://bford.info/cachedir/).
TAG = "CACHEDIR.TAG"
TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# reportgen's build cache: `reportgen clean` removes it.\n"
#: What a cache folder holds: its entry kinds (and "templates", where older versions kept compiled ones), and records.
CACHE_NAMES = {MEDIA, "train", "graphs", "figures", "listings", "fonts", "templates", USAGE, TAG}
#: How a site's build stamp is named, at the cache's top level (see stamp.py): ``<site folder name>.stamp.json``.
STAMP_SUFFIX = ".stamp.json"


#: A file entry's first line: the SHA-256 of the rest, in hex.
DIGEST_HEX = 64


def content_key(kind: str, payload: Any) -> str:
    """Return the cache key of ``payload`` (JSON-able) for entries of ``kind``."""
    text = json.dumps({"kind": kind, "code": code_version(), "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def file_digest(path: Path) -> str:
    """Hash a file in chunks, so a large animation is never read into memory whole."""
    with open(path, "rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()


class Cache:
    """Entries under ``root``: ``<kind>/<key>/`` folders and ``<kind>/<key><suffix>`` texts."""

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = root
        self.enabled = enabled  # False: every lookup misses (--no-cache); entries are still written
        self.used: set[str] = set()  # "<kind>/<name>" of every entry this build read or wrote

    def folders(self) -> list[Path]:
        """Return the folders a build writes in: the root and each kind of entry already there."""
        kinds = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        return [self.root, *kinds]

    def mark_used(self, kind: str, *names: str) -> None:
        """Record entries this build needs, so that pruning keeps them."""
        self.used.update(f"{kind}/{name}" for name in names)

    def _folder(self, kind: str) -> Path:
        folder = self.root / kind
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            tag = self.root / TAG
            if not tag.exists():
                write_atomic(tag, TAG_TEXT.encode())
        return folder

    # ------------------------------------------------------------- folder entries

    def entry_dir(self, key: str, kind: str = MEDIA) -> Path:
        return self.root / kind / key

    def new_entry(self, key: str, kind: str = MEDIA) -> Path:
        """Return an empty folder to build entry ``key`` in (commit it with :meth:`commit`)."""
        return Path(tempfile.mkdtemp(prefix=f".{key}-{os.getpid()}-", suffix=".tmp", dir=self._folder(kind)))

    def remove_stale(self) -> None:
        """Remove half-built entries of builds and renders that were killed."""
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            output.remove_stale(folder, r"\.[0-9a-f]+-(\d+)-\w+\.tmp")

    def commit(self, key: str, workdir: Path, meta: dict[str, Any], kind: str = MEDIA) -> Path:
        """Record file sizes and hashes in meta.json, then move the folder into place."""
        files = {p.name: {"size": p.stat().st_size, "sha256": file_digest(p)} for p in sorted(workdir.iterdir())}
        (workdir / META).write_text(json.dumps({**meta, "files": files}, sort_keys=True))
        final = self.entry_dir(key, kind)
        if final.exists():
            shutil.rmtree(final)
        os.replace(workdir, final)
        self.mark_used(kind, key)
        return final

    def store(self, kind: str, key: str, write: Callable[[Path], dict[str, Any]]) -> Path:
        """Build entry ``key``: ``write(folder)`` writes its files and returns its meta; commit it, or leave nothing."""
        workdir = self.new_entry(key, kind)
        try:
            return self.commit(key, workdir, write(workdir), kind)
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            if exc.filename is None:
                exc.filename = str(self.entry_dir(key, kind))
            raise
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def lookup(self, key: str, required: tuple[str, ...] = (), kind: str = MEDIA) -> dict[str, Any] | None:
        """Return a complete entry's meta, or None for a miss (absent, partial, corrupt or lacking ``required``)."""
        if not self.enabled:
            return None
        folder = self.entry_dir(key, kind)
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
            self.damaged(kind, key, exc)
            return None
        self.mark_used(kind, key)
        return meta

    def damaged(self, kind: str, key: str, reason: object) -> None:
        """Say that an entry cannot be used and will be rebuilt."""
        log.warning("cache entry %s/%s is damaged (%s); rebuilding it", kind, key, reason)

    # ------------------------------------------------------------- JSON documents

    def store_json(self, kind: str, key: str, document: Any) -> None:
        """Store a JSON document as entry ``key``."""
        def write(folder: Path) -> dict[str, Any]:
            (folder / "data.json").write_text(json.dumps(document, sort_keys=True), "utf-8")
            return {}

        self.store(kind, key, write)

    def load_json(self, kind: str, key: str) -> Any | None:
        """Return a stored JSON document, or None for a miss or a damaged entry."""
        if self.lookup(key, kind=kind) is None:
            return None
        try:
            return json.loads((self.entry_dir(key, kind) / "data.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            self.damaged(kind, key, exc)
            return None

    def store_object(self, kind: str, key: str, value: Any) -> None:
        """Store a frozen dataclass (no arrays) as a JSON entry."""
        from reportgen.infra.codec import encode

        self.store_json(kind, key, encode(value))

    def load_object(self, kind: str, key: str, cls: type[T]) -> T | None:
        """Return a stored dataclass of type ``cls``, or None for a miss or an entry that does not match ``cls``."""
        from reportgen.infra.codec import SchemaError, decode

        document = self.load_json(kind, key)
        if document is None:
            return None
        try:
            return decode(cls, document)
        except SchemaError as exc:
            self.damaged(kind, key, exc)
            return None

    # ------------------------------------------------------------- file entries: texts and bytes

    def load_bytes(self, kind: str, key: str, suffix: str) -> bytes | None:
        """Return a stored file's bytes, or None for a miss or an entry that fails its check.

        The file starts with the SHA-256 of the rest and a newline: an entry changed since (a listing with a
        meta refresh appended, a figure cut short) is rebuilt, never published.
        """
        if not self.enabled:
            return None
        try:
            raw = (self.root / kind / f"{key}{suffix}").read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.damaged(kind, key, exc)
            return None
        digest, data = raw[:DIGEST_HEX], raw[DIGEST_HEX + 1:]
        if raw[DIGEST_HEX:DIGEST_HEX + 1] != b"\n" or hashlib.sha256(data).hexdigest().encode() != digest:
            self.damaged(kind, key, "its content does not match its SHA-256")
            return None
        self.mark_used(kind, f"{key}{suffix}")
        return data

    def store_bytes(self, kind: str, key: str, suffix: str, data: bytes) -> None:
        write_atomic(self._folder(kind) / f"{key}{suffix}", hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
        self.mark_used(kind, f"{key}{suffix}")

    def load_text(self, kind: str, key: str, suffix: str) -> str | None:
        """Return a stored text, or None for a miss or an unreadable entry."""
        data = self.load_bytes(kind, key, suffix)
        try:
            return None if data is None else data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.damaged(kind, key, exc)
            return None

    def store_text(self, kind: str, key: str, suffix: str, text: str) -> None:
        self.store_bytes(kind, key, suffix, text.encode("utf-8"))

    # ------------------------------------------------------------- load, or make and store

    def cached_bytes(self, kind: str, key: str, suffix: str, make: Callable[[], bytes]) -> bytes:
        """Return file entry ``<key><suffix>`` of ``kind``: from the cache, else ``make()`` it and store it."""
        data = self.load_bytes(kind, key, suffix)
        if data is None:
            data = make()
            self.store_bytes(kind, key, suffix, data)
        return data

    def cached_text(self, kind: str, key: str, suffix: str, make: Callable[[], str]) -> str:
        """Return text entry ``<key><suffix>`` of ``kind``: from the cache, else ``make()`` it and store it."""
        text = self.load_text(kind, key, suffix)
        if text is None:
            text = make()
            self.store_text(kind, key, suffix, text)
        return text

    def cached_object(self, kind: str, key: str, cls: type[T], make: Callable[[], T]) -> T:
        """Return dataclass entry ``key`` of ``kind``: from the cache, else ``make()`` it and store it."""
        value = self.load_object(kind, key, cls)
        if value is None:
            value = make()
            self.store_object(kind, key, value)
        return value

    # ------------------------------------------------------------- bounds

    def entries(self) -> Iterator[tuple[str, Path]]:
        """Yield every committed entry as ("<kind>/<name>", path); temporary and top-level files are not entries."""
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            if folder.is_dir() and not folder.name.startswith("."):
                for path in sorted(folder.iterdir()):
                    if not path.name.startswith("."):
                        yield f"{folder.name}/{path.name}", path

    def prune(self, keep_builds: int, max_bytes: int) -> Pruned:
        """Count this build, then remove entries unused for ``keep_builds`` builds, and the oldest beyond ``max_bytes``."""
        usage = self._read_usage()
        build = int(usage.get("builds", 0)) + 1
        recorded = usage.get("last_used", {})
        entries = dict(self.entries())
        # An entry no build recorded (an older reportgen's, or one a worker wrote) counts as new.
        last = {name: build if name in self.used else _build_number(recorded.get(name), build) for name in entries}
        doomed = {name for name, b in last.items() if build - b >= keep_builds}
        sizes = {name: _size(entries[name]) for name in entries if name not in doomed}
        total = sum(sizes.values())
        for name in sorted(sizes, key=lambda n: (last[n], n)):  # least recently used first
            if total <= max_bytes or last[name] == build:  # never what this build needs
                break
            doomed.add(name)
            total -= sizes.pop(name)
        for name in doomed:
            path = entries[name]
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        kept = {name: last[name] for name in entries if name not in doomed}
        write_atomic(self.root / USAGE, json.dumps({"builds": build, "last_used": kept}, sort_keys=True).encode())
        return Pruned(removed=len(doomed), kept=len(kept), bytes=total)

    def clear(self) -> int:
        """Remove the whole cache folder; return the bytes it held. Refuse a folder that is not a reportgen cache."""
        if not self.root.is_dir():
            return 0
        odd = sorted(p.name for p in self.root.iterdir()
                     if p.name not in CACHE_NAMES and not p.name.startswith(".") and not p.name.endswith(STAMP_SUFFIX))
        if odd and not (self.root / TAG).exists():
            from reportgen.infra.errors import ConfigError

            raise ConfigError(f"{self.root}: does not look like reportgen's cache (it holds {odd[0]}); "
                              "remove it yourself if it is")
        size = _size(self.root)
        shutil.rmtree(self.root)
        return size

    def _read_usage(self) -> dict[str, Any]:
        try:
            usage = json.loads((self.root / USAGE).read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.debug("cache usage record unreadable (%s); starting it again", exc)
            return {}
        return usage if isinstance(usage, dict) and isinstance(usage.get("last_used"), dict) else {}


@dataclass(frozen=True)
class Pruned:
    """What pruning left: entries removed and kept, and the size of what was kept."""

    removed: int
    kept: int
    bytes: int


def _build_number(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value <= default else default


def _size(path: Path) -> int:
    """Return the bytes of a file, or of every file under a folder."""
    if not path.is_dir():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
