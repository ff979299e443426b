"""``reportgen grade``: compare the students' answers with the key, question by question, within tolerances.

answers.csv has an ``id`` column and any of the key's answer columns; a stop iteration may differ by
``iterations`` (machines differ in the last bits of float32), w and b by ``values``. A missing answer scores
nothing. Every problem of the input is one line, and nothing is written until all of them are fixed.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from reportgen.classroom.key import HEAD, TAIL
from reportgen.classroom.roster import read_csv_text
from reportgen.classroom.secret import fingerprint
from reportgen.classroom.variants import DIVERGED, NEVER
from reportgen.infra.errors import ConfigError
from reportgen.infra.output import write_atomic

MAX_BYTES = 20_000_000


@dataclass(frozen=True)
class Tolerance:
    iterations: int = 1  # a stop iteration may differ by this much
    values: float = 0.01  # w and b, to two decimals


@dataclass(frozen=True)
class Grade:
    id: str
    right: int
    asked: int
    wrong: tuple[str, ...]  # the columns answered wrongly or not at all


def read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file's header and rows; one line for each way it cannot be read."""
    reader = csv.DictReader(io.StringIO(read_csv_text(path, what, MAX_BYTES)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "id" not in header:
        raise ConfigError(f"{path}: no 'id' column in the header")
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    return header, rows


def grade(key_path: Path, answers_path: Path, secret: str | None, tolerance: Tolerance) -> list[Grade]:
    """Grade every student of the answers file against the key."""
    key_header, key_rows = read_csv(key_path, "key")
    questions = [c for c in key_header if c not in HEAD and c not in TAIL]
    if "fingerprint" not in key_header or not questions:
        raise ConfigError(f"{key_path}: not a key written by reportgen class (no answer or fingerprint columns)")
    if secret is not None and any(r["fingerprint"] != fingerprint(secret) for r in key_rows):
        raise ConfigError(f"{key_path}: was written under another class secret than this one")
    key = {r["id"]: r for r in key_rows}
    header, rows = read_csv(answers_path, "answers")
    problems = [f"{answers_path}: column {c!r} is not one of the key's questions" for c in header
                if c not in questions and c not in ("id", "name")]
    if not any(c in questions for c in header):
        problems.append(f"{answers_path}: no answer column: use the key's names, e.g. {questions[0]}")
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        sid = row.get("id", "")
        if not sid:
            problems.append(f"{answers_path}: line {line}: no id")
        elif sid not in key:
            problems.append(f"{answers_path}: line {line}: id {sid!r} is not in the key")
        elif sid in seen:
            problems.append(f"{answers_path}: line {line}: id {sid!r} again (first on line {seen[sid]})")
        else:
            seen[sid] = line
            for c in questions:
                given = row.get(c, "")
                if given and given.lower() not in (NEVER, DIVERGED) and not _number(given):
                    problems.append(f"{answers_path}: line {line}: {c} = {given!r} is not a number, "
                                    f"'{NEVER}' or '{DIVERGED}'")
    if problems:
        raise ConfigError(*problems)
    return [_grade(row, key[row["id"]], questions, tolerance) for row in rows]


def _grade(row: dict[str, str], key: dict[str, str], questions: list[str], tol: Tolerance) -> Grade:
    wrong = tuple(c for c in questions if not _matches(row.get(c, ""), key[c], c.endswith("_stop"), tol))
    return Grade(row["id"], len(questions) - len(wrong), len(questions), wrong)


def _matches(given: str, expected: str, is_stop: bool, tol: Tolerance) -> bool:
    if not given:
        return False
    if expected in (NEVER, DIVERGED) or given.lower() in (NEVER, DIVERGED):
        return given.lower() == expected
    if not expected:  # a diverged run has no w, b to copy: any answer goes
        return True
    a, b = float(given), float(expected)
    return abs(a - b) <= (tol.iterations if is_stop else tol.values + 1e-9)


def _number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def write_grades(grades: list[Grade], path: Path) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "right", "asked", "score", "wrong"])
    for g in grades:
        writer.writerow([g.id, g.right, g.asked, f"{g.right / g.asked:.3f}", " ".join(g.wrong)])
    write_atomic(path, out.getvalue().encode("utf-8"))


def summary(grades: list[Grade]) -> str:
    scores = sorted(g.right / g.asked for g in grades)
    mean = sum(scores) / len(scores)
    return (f"graded {len(grades)} students: mean {mean:.1%}, median {scores[len(scores) // 2]:.1%}, "
            f"{sum(s == 1 for s in scores)} with every answer right")
