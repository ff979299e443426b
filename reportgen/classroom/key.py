"""Train every student's homework runs in one batched program, and write the teacher's answer key.

key.csv holds one row per student: id, name, seed, slope, intercept, every graded answer, and the
fingerprint of the class secret (never the secret). key.html is the same, readable, with each student's
files linked.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Mapping, Sequence

from reportgen.classroom.roster import Student
from reportgen.classroom.secret import fingerprint
from reportgen.classroom.variants import (
    Homework,
    Variant,
    answers_of,
    homework_of,
    specs_of,
    stable_variant,
)
from reportgen.config.schema import Config
from reportgen.train.run import RunResult

#: key.csv's columns before the graded answers, and after them.
HEAD = ("id", "name", "seed", "slope", "intercept")
TAIL = ("fingerprint",)


@dataclass(frozen=True)
class ClassRun:
    """What a class build computed: each student's variant, runs and graded answers."""

    variants: tuple[Variant, ...]
    homework: Homework
    results: Mapping[str, tuple[RunResult, ...]]  # by student id: the homework's runs, in Homework order
    answers: Mapping[str, Mapping[str, str]]  # by student id: column -> answer as key.csv writes it
    fingerprint: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (*HEAD, *self.homework.columns(), *TAIL)

    def row(self, v: Variant) -> dict[str, str]:
        return {"id": v.id, "name": v.student.name, "seed": str(v.seed), "slope": repr(v.slope),
                "intercept": repr(v.intercept), **self.answers[v.id], "fingerprint": self.fingerprint}


def run_class(config: Config, students: Sequence[Student], secret: str, device: str = "cpu") -> ClassRun:
    """Derive each student's variant and train all their homework runs together."""
    from reportgen.train.analysis import analyse_all
    from reportgen.train.batched import draw_data, train_grid

    variants = tuple(stable_variant(s, config, secret) for s in students)
    homework = homework_of(config)
    per_student = [specs_of(v, homework, config.defaults) for v in variants]
    specs = [s for group in per_student for s in group]
    data = draw_data(specs)
    trajectories = train_grid(specs, data, device=device)
    analyses = analyse_all(data, [s.params for s in specs])
    flat = [RunResult(s, d, t, a) for s, d, t, a in zip(specs, data, trajectories, analyses)]
    results, at = {}, 0
    for v, group in zip(variants, per_student):
        results[v.id] = tuple(flat[at:at + len(group)])
        at += len(group)
    return ClassRun(variants, homework, results, {v.id: answers_of(results[v.id]) for v in variants},
                    fingerprint(secret))


def key_csv(run: ClassRun) -> str:
    """The key as CSV text, one row per student."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=run.columns, lineterminator="\n")
    writer.writeheader()
    for v in run.variants:
        writer.writerow(_spreadsheet_safe(run.row(v)))
    return out.getvalue()


def _spreadsheet_safe(row: dict[str, str]) -> dict[str, str]:
    """A name such as ``=HYPERLINK(...)`` is text, not a formula, when a spreadsheet opens the file."""
    return {k: ("'" + v if k == "name" and v[:1] in "=+-@\t\r" and v else v) for k, v in row.items()}
