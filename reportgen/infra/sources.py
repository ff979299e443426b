"""reportgen's own files: where its templates are, and digests of the code and of everything a page is made from."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from reportgen import __version__

#: The installed package (or the source checkout's ``reportgen/``).
PACKAGE = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    """Return the templates folder: inside the installed package, or the source checkout's."""
    for candidate in (PACKAGE / "templates", PACKAGE.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"reportgen templates not found next to {PACKAGE}")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Hash the package's own source and catalogs, so a change to either invalidates every cache entry."""
    return _digest({path.relative_to(PACKAGE).as_posix(): path for path in
                    [*PACKAGE.rglob("*.py"), *PACKAGE.glob("locale/*/LC_MESSAGES/*.po")]})


@functools.lru_cache(maxsize=1)
def site_sources() -> str:
    """Hash every file of reportgen a site is made from: code, catalogs, the built-in config, templates, styles.

    Wider than :func:`code_version`: a template or style edit changes the pages, not a cached run or animation.
    """
    files = {}
    for label, root in (("reportgen", PACKAGE), ("templates", templates_dir())):
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[f"{label}/{path.relative_to(root).as_posix()}"] = path
    return _digest(files)


def _digest(files: dict[str, Path]) -> str:
    """Hash files by name and content."""
    digest = hashlib.sha256(__version__.encode())
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name].read_bytes())
    return digest.hexdigest()[:16]
