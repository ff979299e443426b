"""The fonts figures are drawn in: matplotlib's DejaVu, and Noto Sans SC for Chinese.

Noto Sans SC comes from PyPI (the ``pylopdf-fonts-zh-cn`` wheel, SIL OFL 1.1),
so ``pip install`` brings it on every platform and no system font is needed.
It is registered with matplotlib by path and named after DejaVu in every font
list: Latin text and digits keep DejaVu's glyphs, and matplotlib's per-glyph
fallback takes each Chinese character from Noto Sans SC.
"""

from __future__ import annotations

import functools
from pathlib import Path

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


def needs_cjk(texts: list[str] | tuple[str, ...]) -> bool:
    """True when any text holds a character outside Latin, Greek and the common symbols DejaVu draws."""
    return any(ord(ch) >= CJK_START for text in texts for ch in text)


def families(cjk: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the (sans, monospace) font lists to draw with; the CJK font is registered when asked for."""
    if not cjk:
        return SANS, MONO
    name = register_cjk_font()
    return (*SANS, name), (*MONO, name)


def cjk_codepoints() -> frozenset[int]:
    """Return the code points the CJK font has a glyph for."""
    return _cmap(str(cjk_font_path()))


def missing_glyphs(text: str, path: Path | None = None) -> set[str]:
    """Return the characters of ``text`` that the CJK font file has no glyph for."""
    cmap = _cmap(str(path or cjk_font_path()))
    return {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}


@functools.lru_cache(maxsize=4)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())
