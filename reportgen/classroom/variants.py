"""Each student's variant of the homework, derived from their id under the class secret, and its graded answers.

A variant's seed (and, where ``[classroom]`` gives ranges, its true slope and intercept) come from
HMAC-SHA256(secret, id): the same secret and id always give the same variant, another secret another one,
and nobody without the secret can work out a classmate's. The answers are what the course's own loop gives
for those settings: every student's homework runs train together in one batched program.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Sequence

from reportgen.classroom.roster import Student
from reportgen.config.grid import RunSpec
from reportgen.config.schema import Config, Params
from reportgen.infra.errors import ConfigError
from reportgen.train.run import RunResult, Status

#: The homework's own values when the config has no such sweep: the thresholds and slopes the student tried.
THRESHOLDS = (10.0, 1.0, 0.1)
SLOPES = (1.0, 2.0, 3.0, 5.0)
NEVER = "never"  # the loop used its whole budget
DIVERGED = "diverged"


@dataclass(frozen=True)
class Variant:
    """One student's homework: their id and name, and the settings their data is drawn with."""

    student: Student
    seed: int
    slope: float
    intercept: float

    @property
    def id(self) -> str:
        return self.student.id


#: A variant's learning rate stays this far under its data's stability bound 2/λmax, so that no student's runs
#: diverge (the course's own data has lr 0.05 against 0.0578); a draw too close to the bound is drawn again.
STABLE_MARGIN = 0.95
ATTEMPTS = 200


def stable_variant(student: Student, config: Config, secret: str) -> Variant:
    """The student's variant: the first of their HMAC draws whose data keep the homework's lr stable."""
    from reportgen.train.analysis import analyse
    from reportgen.train.batched import draw_data

    for attempt in range(ATTEMPTS):
        v = variant_of(student, config, secret, attempt)
        params = config.defaults.replace(seed=v.seed, slope=v.slope, intercept=v.intercept)
        (data,) = draw_data([RunSpec("probe", "probe", params, {})])
        if params.lr <= STABLE_MARGIN * analyse(data, params).lr_max:
            return v
    raise ConfigError(f"lr = {config.defaults.lr} is too close to the stability bound for this class's data: "
                      "lower [defaults] lr or x_max")


def variant_of(student: Student, config: Config, secret: str, attempt: int = 0) -> Variant:
    """The ``attempt``-th draw of a student's variant: HMAC-SHA256 of the id under the secret."""
    message = b"reportgen-class-v1\0" + student.id.encode() + (b"\0%d" % attempt if attempt else b"")
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    unit = [int.from_bytes(digest[i:i + 8], "big") / 2**64 for i in (8, 16)]
    seed = int.from_bytes(digest[:8], "big") >> 1  # within torch.manual_seed's range, and the config's

    def pick(bounds: tuple[float, ...], fallback: float, u: float) -> float:
        if not bounds:
            return fallback
        lo, hi = float(bounds[0]), float(bounds[1])
        return round(lo + (hi - lo) * u, 2)  # two decimals: what a student types into the script

    d = config.defaults
    return Variant(student, seed, pick(config.classroom.slope, d.slope, unit[0]),
                   pick(config.classroom.intercept, d.intercept, unit[1]))


@dataclass(frozen=True)
class Homework:
    """The questions every variant answers: the stop for each threshold, and for each slope at the course's threshold."""

    thresholds: tuple[float, ...]
    slopes: tuple[float, ...]
    threshold: float  # the slopes table's stop test

    def columns(self) -> tuple[str, ...]:
        """The graded answers' column names, in key.csv's order."""
        cols = []
        for kind, values in (("threshold", self.thresholds), ("slope", self.slopes)):
            for v in values:
                cols += [f"{kind}_{_name(v)}_stop", f"{kind}_{_name(v)}_w", f"{kind}_{_name(v)}_b"]
        return tuple(cols)


def homework_of(config: Config) -> Homework:
    """The thresholds and slopes of the config's one-parameter sweeps, else the homework's own."""
    def values(key: str, fallback: tuple[float, ...]) -> tuple[float, ...]:
        sweep = next((s for s in config.sweeps if set(s.vary) == {key}), None)
        return tuple(float(v) for v in sweep.vary[key]) if sweep else fallback

    return Homework(values("threshold", THRESHOLDS), values("slope", SLOPES), config.defaults.threshold)


def specs_of(variant: Variant, homework: Homework, defaults: Params) -> list[RunSpec]:
    """A variant's homework runs: its data (seed, slope, intercept) under each threshold, then each slope."""
    base = defaults.replace(seed=variant.seed, slope=variant.slope, intercept=variant.intercept)
    specs = [RunSpec(f"{_name(t)}", "threshold", base.replace(threshold=t), {"threshold": t}) for t in homework.thresholds]
    specs += [RunSpec(f"{_name(s)}", "slope", base.replace(slope=s, threshold=homework.threshold), {"slope": s})
              for s in homework.slopes]
    return specs


def answers_of(results: Sequence[RunResult]) -> dict[str, str]:
    """A variant's graded answers, as key.csv writes them: the stop iteration (or never / diverged), and w, b
    as the course's window prints them after the last update (four decimals)."""
    out = {}
    for r in results:
        t, prefix = r.trajectory, f"{r.spec.sweep}_{r.spec.id}"
        out[f"{prefix}_stop"] = {Status.STOPPED: str(t.stop_iteration), Status.BUDGET_EXHAUSTED: NEVER,
                                 Status.DIVERGED: DIVERGED}[t.status]
        finite = t.status != Status.DIVERGED and math.isfinite(t.updated_w) and math.isfinite(t.updated_b)
        out[f"{prefix}_w"] = f"{t.updated_w:.4f}" if finite else ""
        out[f"{prefix}_b"] = f"{t.updated_b:.4f}" if finite else ""
    return out


def _name(value: float) -> str:
    """A value as a column name part: 0.1 -> 0.1, 10.0 -> 10."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
