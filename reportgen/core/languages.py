"""The languages a report is written in, and the one way a language is spelled by a user.

Both the ``--lang`` flag and the config's ``lang`` go through :func:`resolve`, so a
spelling that one accepts the other accepts too ("zh_cn" is "zh-CN" everywhere).
"""

from __future__ import annotations

#: Each language the report is written in, with its name in that language.
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT = "en"
#: Asks for every language; each is then built in a folder of its own.
ALL = "all"
CHOICES = (*LANGUAGES, ALL)


def normalize(value: str) -> str | None:
    """Return the code a spelling stands for ("zh_cn" -> "zh-CN", "ALL" -> "all"), or None."""
    wanted = value.strip().replace("_", "-").lower()
    return next((code for code in CHOICES if code.lower() == wanted), None)


def resolve(value: str) -> tuple[str, ...]:
    """Return the languages a normalised value asks for; "all" gives every one, in order."""
    return tuple(LANGUAGES) if value == ALL else (value,)


UNKNOWN = f"unknown language; choose one of {', '.join(CHOICES)}"
