"""A class roster: a CSV with an ``id`` column and, optionally, ``name``; checked before any work."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from reportgen.config.load import HIDDEN
from reportgen.infra.errors import ConfigError
from reportgen.infra.inputs import read_bounded

#: What a roster refuses beyond what a config refuses (config.load.HIDDEN): a name is one line, and the
#: zero-width (non-)joiners a title may keep inside an emoji have no place in an id or a name.
LINE_ONLY = re.compile("[\t\n\r\u200c\u200d]")
#: A roster bigger than this is not a class.
MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""


def read_roster(path: Path) -> tuple[Student, ...]:
    """Return the roster's students in file order; one line per problem, before anything is built."""
    return parse_roster(read_csv_text(path, "roster", MAX_BYTES), str(path))


def read_csv_text(path: Path, what: str, limit: int) -> str:
    """A teacher's CSV file (a roster, answers, a key) as text; one line for each way it cannot be read."""
    try:
        data = read_bounded(path, limit)
        if data is None:
            raise ConfigError(f"{path}: a {what} file is at most {limit // 1_000_000} MB; this is not one")
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what} file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the {what} as UTF-8 CSV") from None


def parse_roster(text: str, source: str = "roster") -> tuple[Student, ...]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ConfigError(f"{source}: empty: a roster needs a header line with an 'id' column")
    header = [cell.strip().lower() for cell in rows[0]]
    if "id" not in header:
        raise ConfigError(f"{source}: no 'id' column in the header ({', '.join(header)})")
    at_id, at_name = header.index("id"), header.index("name") if "name" in header else None
    problems, students, seen = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        sid = row[at_id].strip() if at_id < len(row) else ""
        name = row[at_name].strip() if at_name is not None and at_name < len(row) else ""
        if not sid:
            problems.append(f"{source}: line {line}: no id")
        elif sid in seen:
            problems.append(f"{source}: line {line}: id {sid!r} again (first on line {seen[sid]})")
        elif hidden := HIDDEN.search(sid + name) or LINE_ONLY.search(sid + name):
            problems.append(f"{source}: line {line}: holds U+{ord(hidden.group()):04X}, which a page would hide or "
                            "reorder; remove it")
        else:
            seen[sid] = line
            students.append(Student(sid, name))
    if problems:
        raise ConfigError(*problems)
    if not students:
        raise ConfigError(f"{source}: no student: the roster has a header and no row")
    return tuple(students)
