"""The report's languages: gettext catalogs shipped as .po files, compiled in memory.

Every user-visible string of the templates and of the Python code is an English
msgid; ``reportgen/locale/<ll_CC>/LC_MESSAGES/reportgen.po`` holds its
translation. No compiled .mo file is kept anywhere: a build reads the .po with
Babel and compiles it into memory. ``make catalogs`` re-extracts the messages
(``babel.cfg``) and updates the catalogs.
"""

from __future__ import annotations

import dataclasses
import functools
import gettext
import io
import tomllib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator

from .exceptions import ConfigError

if TYPE_CHECKING:  # config.py imports this module for LANGUAGES
    from .config import Config

DOMAIN = "reportgen"
DEFAULT_LANG = "en"
#: Each language the report is written in, with its name in that language.
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
ALL = "all"

Translations = gettext.NullTranslations


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where the language is known."""
    return message


def locale_dir() -> Path:
    """Return the folder of the packaged catalogs."""
    return Path(__file__).resolve().parent / "locale"


def catalog_path(lang: str) -> Path:
    """Return the .po file of a language ("zh-CN" -> locale/zh_CN/LC_MESSAGES/reportgen.po)."""
    return locale_dir() / lang.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


def resolve_languages(value: str, where: str = "--lang") -> tuple[str, ...]:
    """Return the languages a --lang value asks for; "all" gives every one, in order."""
    if value == ALL:
        return tuple(LANGUAGES)
    lang = normalize(value)
    if lang is None:
        choices = ", ".join([*LANGUAGES, ALL])
        raise ConfigError(f"{where} {value!r}: unknown language; choose one of {choices}")
    return (lang,)


def normalize(value: str) -> str | None:
    """Return the language code a spelling stands for ("zh_cn" -> "zh-CN"), or None."""
    wanted = value.strip().replace("_", "-").lower()
    return next((code for code in LANGUAGES if code.lower() == wanted), None)


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> Translations:
    """Return the translations of ``lang``, compiled from its .po file in memory."""
    if lang == DEFAULT_LANG:
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


# --------------------------------------------------------------------------- the built-in config


def localize_config(config: Config, tr: Translations) -> Config:
    """Translate the titles and descriptions of the built-in config; a user's config is left as written."""
    if config.source != "<default>":
        return config
    sweeps = tuple(dataclasses.replace(s, title=tr.gettext(s.title),
                                       description=tr.gettext(s.description) if s.description else "")
                   for s in config.sweeps)
    return dataclasses.replace(config, title=tr.gettext(config.title),
                               description=tr.gettext(config.description) if config.description else "",
                               sweeps=sweeps)


def extract_config(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel extractor for the built-in config: its title, description and sweep texts."""
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    for message in _config_texts(tomllib.loads(text)):
        lineno = next((i for i, line in enumerate(lines, 1) if message in line), 0)
        yield lineno, None, message, []


def _config_texts(data: dict) -> Iterator[str]:
    for key in ("title", "description"):
        if data.get(key):
            yield data[key]
    for sweep in data.get("sweep", []):
        for key in ("title", "description"):
            if sweep.get(key):
                yield sweep[key]
