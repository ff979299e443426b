"""The scriptless explorer of a sweep: a radio group per varied parameter, and the CSS that follows them.

Every run of a sweep is in the page once, as a card. A card, a heatmap cell's ring
and a radio button carry *picks*, tokens ``"<group>-<value>"``: the radio for value 2
of the first group has ``data-pick="0-2"``, and a run with that value has ``0-2`` among
its picks. One rule per token hides what the checked radio rules out::

    .explorer:has(input[data-pick="0-2"]:checked) [data-pick]:not(input, :target, [data-pick~="0-2"])

so what stays shown is the run that matches every group (and a run the URL points at,
``#run-<id>``). A browser without ``:has()`` shows every card, as a plain list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .config import Params
from .formatting import param
from .results import RunResult

#: A sweep of more runs than this keeps its heatmap (an image) and no explorer: its page would be too heavy.
EXPLORER_LIMIT = 400
#: The course's own run: the built-in defaults (slope 2, lr 0.05, threshold 1, ...).
COURSE = Params().to_dict()


@dataclass(frozen=True)
class Choice:
    """One value of a radio group."""

    value: str  # as the user typed it: "0.057"
    token: str  # "<group>-<index>"
    checked: bool  # the value of the run shown first


@dataclass(frozen=True)
class Group:
    """The radio group of one varied parameter."""

    key: str  # the parameter: "lr"
    name: str  # the group's name, unique in the page
    choices: tuple[Choice, ...]


def explorable(runs: Sequence[object]) -> bool:
    """True when a sweep of these runs gets an explorer: every run a card in the page."""
    return 0 < len(runs) <= EXPLORER_LIMIT


def course_run(runs: Sequence[RunResult]) -> RunResult:
    """Return the run a sweep shows first: the course's own where the sweep holds it, else its first."""
    return next((r for r in runs if all(COURSE.get(k) == v for k, v in r.spec.varied.items())), runs[0])


def radio_groups(sweep: str, runs: Sequence[RunResult], first: RunResult) -> tuple[Group, ...]:
    """Return a radio group for each parameter the sweep varies over two or more values."""
    groups: list[Group] = []
    for key in runs[0].spec.varied:
        values = sorted({r.spec.varied[key] for r in runs})
        if len(values) < 2:
            continue
        index = len(groups)
        choices = tuple(Choice(param(v), f"{index}-{i}", v == first.spec.varied[key]) for i, v in enumerate(values))
        groups.append(Group(key, f"pick-{sweep}-{index}", choices))
    return tuple(groups)


def picks(run: RunResult, groups: Sequence[Group]) -> str:
    """Return the tokens of a run's values, one per group: "0-1 1-5"."""
    tokens = []
    for group in groups:
        value = param(run.spec.varied[group.key])
        tokens.extend(c.token for c in group.choices if c.value == value)
    return " ".join(tokens)


def explorer_css(groups: Sequence[Group]) -> str:
    """Return the rules that show the checked run of every explorer of a page (one per token in use)."""
    tokens = sorted({c.token for g in groups for c in g.choices}, key=lambda t: tuple(map(int, t.split("-"))))
    rules = [f'.explorer:has(input[data-pick="{t}"]:checked) [data-pick]:not(input, :target, [data-pick~="{t}"])'
             for t in tokens]
    if not rules:
        return ""
    return "/* The explorers: what a checked radio rules out is hidden (reportgen.explorer). */\n" + \
        ",\n".join(rules) + " { display: none; }\n"
