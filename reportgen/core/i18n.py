"""The report's words in each language: gettext catalogs shipped as .po files, compiled in memory.

Every user-visible string of the templates and of the Python code is an English
msgid; ``reportgen/locale/<ll_CC>/LC_MESSAGES/reportgen.po`` holds its
translation. No compiled .mo file is kept anywhere: a build reads the .po with
Babel and compiles it into memory. ``make catalogs`` re-extracts the messages
(``babel.cfg``) and updates the catalogs.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from reportgen.core.languages import DEFAULT

DOMAIN = "reportgen"

Translations = gettext.NullTranslations


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where the language is known."""
    return message


def locale_dir() -> Path:
    """Return the folder of the packaged catalogs."""
    return Path(__file__).resolve().parent.parent / "locale"


def catalog_path(lang: str) -> Path:
    """Return the .po file of a language ("zh-CN" -> locale/zh_CN/LC_MESSAGES/reportgen.po)."""
    return locale_dir() / lang.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> Translations:
    """Return the translations of ``lang``, compiled from its .po file in memory."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations as BabelTranslations

    path = catalog_path(lang)
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang.replace("-", "_"), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)  # a fuzzy entry stays English rather than wrong
    buffer.seek(0)
    return BabelTranslations(buffer, domain=DOMAIN)
