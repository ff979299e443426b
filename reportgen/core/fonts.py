"""The fonts figures are drawn in: matplotlib's DejaVu, and Noto Sans SC for Chinese.

Noto Sans SC comes from PyPI (the ``pylopdf-fonts-zh-cn`` wheel, SIL OFL 1.1),
so ``pip install`` brings it on every platform and no system font is needed.
It is registered with matplotlib by path and named after DejaVu in every font
list: Latin text and digits keep DejaVu's glyphs, and matplotlib's per-glyph
fallback takes each Chinese character from Noto Sans SC.

A character neither font has (most emoji) is drawn as a box chosen here, so
that matplotlib never warns about a missing glyph; the build says so once.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import unicodedata
from pathlib import Path
from typing import Iterable

log = logging.getLogger("reportgen")

#: What a character no font has is drawn as: the box a missing glyph shows, but on purpose and without a warning.
MISSING = "\u25a1"
#: Categories of characters that take no room of their own (combining marks, joiners, variation selectors,
#: emoji modifiers): one that cannot be drawn is dropped, not boxed.
ZERO_WIDTH = ("Mn", "Me", "Cf", "Sk")
_warned: set[str] = set()

#: Family name of the CJK font, as matplotlib reads it from the file.
CJK_FAMILY = "Noto Sans SC"
SANS = ("DejaVu Sans",)
MONO = ("DejaVu Sans Mono",)


def cjk_font_path() -> Path:
    """Return the path of the packaged Noto Sans SC font file."""
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.sans_path())


@functools.lru_cache(maxsize=None)
def register_cjk_font() -> str:
    """Make the CJK font known to matplotlib (once per process); return its family name."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    assert name == CJK_FAMILY, f"{path} is {name!r}, not {CJK_FAMILY!r}"
    return name


#: The first code point of the CJK blocks (radicals, punctuation, kana, Han, full-width forms, ...).
CJK_START = 0x2E80
_CJK = re.compile(f"[{chr(CJK_START)}-{chr(0x10FFFF)}]")


def needs_cjk(texts: list[str] | tuple[str, ...]) -> bool:
    """True when any text holds a character outside Latin, Greek and the common symbols DejaVu draws."""
    return any(_CJK.search(text) for text in texts)  # a regex: a whole page is searched on every build


def families(cjk: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the (sans, monospace) font lists to draw with; the CJK font is registered when asked for."""
    if not cjk:
        return SANS, MONO
    name = register_cjk_font()
    return (*SANS, name), (*MONO, name)


def cjk_codepoints() -> frozenset[int]:
    """Return the code points the CJK font has a glyph for."""
    return _cmap(str(cjk_font_path()))


def drawable(text: str) -> str:
    """Return ``text`` as the figures can draw it: a character no font has becomes a box; a mark or joiner goes."""
    return "".join(ch if has_glyph(ch) else "" if unicodedata.category(ch) in ZERO_WIDTH else MISSING for ch in text)


def warn_undrawable(texts: Iterable[str]) -> None:
    """Say once, for all of ``texts``, which characters the figures cannot draw (each is told only once a process)."""
    missing = sorted({ch for text in texts for ch in text if not has_glyph(ch)} - _warned)
    if not missing:
        return
    _warned.update(missing)
    boxed = [ch for ch in missing if unicodedata.category(ch) not in ZERO_WIDTH]
    left_out = [ch for ch in missing if ch not in boxed]
    told = [f"draw {MISSING} for {_listed(boxed)}" if boxed else "", f"leave out {_listed(left_out)}" if left_out else ""]
    log.warning("the animations and figures have no font for some characters of the config: they %s "
                "(the page shows them as written)", " and ".join(t for t in told if t))


def _listed(chars: list[str]) -> str:
    return ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in chars)


def has_glyph(ch: str) -> bool:
    """True when DejaVu Sans, or for a CJK-range character the CJK font, can draw ``ch``."""
    if ch.isspace() or ord(ch) < 0x250:  # Latin, which DejaVu covers: no font file to read for most texts
        return True
    return ord(ch) in _cmap(str(dejavu_path())) or (ord(ch) >= CJK_START and ord(ch) in _cmap(str(cjk_font_path())))


def dejavu_path() -> Path:
    """Return the DejaVu Sans that matplotlib ships, found without importing matplotlib."""
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations, "matplotlib is not installed"
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"


@functools.lru_cache(maxsize=4)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())
