"""What the page shows of each sweep, decided from its grid alone: before any run is trained or drawn.

One home for the page's shape: which sweeps get a table, an overlay of loss curves, a heatmap or an explorer;
which runs get a card (and so a loss chart and a ``#run-<id>`` anchor); the explorer's radio groups; the run a
sweep shows first; and the widths where a phone's drawing takes over. The estimate, the figures stage and the
page views all ask this module, so they never disagree about a sweep.

The explorer (see :mod:`reportgen.site.explorer` for its CSS): a card, a heatmap cell's ring and a radio button
carry *picks*, tokens ``"<group>-<value>"``: the radio for value 2 of the first group has ``data-pick="0-2"``,
and a run with that value has ``0-2`` among its picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Config, Params, Sweep
from reportgen.core.formatting import param

#: A sweep of more runs than this gets no table of runs, only its heatmap; every run stays in results.json.
TABLE_LIMIT = 60
#: A sweep of more runs than this gets no overlay of loss curves (they would be unreadable).
OVERLAY_LIMIT = 12
#: A sweep of more runs than this keeps its heatmap (an image) and no explorer: its page would be too heavy.
EXPLORER_LIMIT = 400
#: Below this width (in rem) the page offers a figure's phone drawing, and scrolls a wide diagram sideways.
PHONE_MAX_REM = 36
#: The band at a video's bottom that the browser's own controls cover when it is paused, in Debian's Chromium:
#: the buttons and the timeline take about 65 CSS px, and the shade above them some 20 more. The video's box is
#: this much taller than its frame, and the frame sits at the top, so the controls cover only white: never a
#: tick, a label or a mark (a browser test).
CONTROLS_REM = 5.5
#: The width (in rem) a graph or heatmap keeps on a phone, scrolled sideways, so that its text stays readable.
DIAGRAM_MIN_REM = 39


def tabulated(runs: int) -> bool:
    """True when a sweep of ``runs`` runs gets a table of them."""
    return runs <= TABLE_LIMIT


def overlaid(runs: int) -> bool:
    """True when a sweep of ``runs`` runs gets an overlay of its loss curves."""
    return 0 < runs <= OVERLAY_LIMIT


def explorable(runs: int) -> bool:
    """True when a sweep of ``runs`` runs gets an explorer: every run a card in the page."""
    return 0 < runs <= EXPLORER_LIMIT


def cards(runs: int, animated: int) -> int:
    """Return how many cards a sweep gets: every run of an explorer, else its animated runs."""
    return runs if explorable(runs) else animated


def anchor(run_id: str) -> str:
    """Return the id of a run's card in the page: its permalink is ``#run-<id>``."""
    return f"run-{run_id}"


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


@dataclass(frozen=True)
class SweepLayout:
    """What the page shows of one sweep."""

    sweep: Sweep
    run_ids: tuple[str, ...]  # in grid order
    explored: bool  # an explorer: radio groups, and every run a card
    tabulated: bool  # a table of its runs
    overlaid: bool  # an overlay of its loss curves
    heatmap: bool  # a heatmap: it varies two parameters
    first: str  # id of the run shown first: the course's own where the sweep holds it, else its first
    groups: tuple[Group, ...]  # the explorer's radio groups: one per parameter with two or more values
    picks: Mapping[str, str]  # run id -> its explorer tokens, "0-1 1-5" ("" without an explorer)
    cards: frozenset[str]  # ids of the runs shown as a card (each with its loss chart and anchor)

    def has_card(self, run_id: str) -> bool:
        return run_id in self.cards


def course_run(specs: Sequence[RunSpec], course: Params) -> RunSpec:
    """Return the run a sweep shows first: the one whose varied values are the course's (``[defaults]``), else its first."""
    values = course.to_dict()
    return next((s for s in specs if all(values.get(k) == v for k, v in s.varied.items())), specs[0])


def radio_groups(sweep: str, specs: Sequence[RunSpec], first: RunSpec) -> tuple[Group, ...]:
    """Return a radio group for each parameter the sweep varies over two or more values."""
    groups: list[Group] = []
    for key in specs[0].varied:
        values = sorted({s.varied[key] for s in specs})
        if len(values) < 2:
            continue
        index = len(groups)
        choices = tuple(Choice(param(v), f"{index}-{i}", v == first.varied[key]) for i, v in enumerate(values))
        groups.append(Group(key, f"pick-{sweep}-{index}", choices))
    return tuple(groups)


def picks(spec: RunSpec, groups: Sequence[Group]) -> str:
    """Return the tokens of a run's values, one per group: "0-1 1-5"."""
    tokens = []
    for group in groups:
        value = param(spec.varied[group.key])
        tokens.extend(c.token for c in group.choices if c.value == value)
    return " ".join(tokens)


def sweep_layout(sweep: Sweep, specs: Sequence[RunSpec], course: Params) -> SweepLayout:
    """Decide what the page shows of a sweep of these runs; ``course`` is the config's ``[defaults]``."""
    n = len(specs)
    explored = explorable(n)
    first = course_run(specs, course) if specs else None
    groups = radio_groups(sweep.name, specs, first) if first is not None and explored else ()
    return SweepLayout(
        sweep=sweep, run_ids=tuple(s.id for s in specs), explored=explored, tabulated=tabulated(n),
        overlaid=overlaid(n), heatmap=n > 0 and len(sweep.dimensions) == 2, first=first.id if first else "",
        groups=groups, picks={s.id: picks(s, groups) for s in specs},
        cards=frozenset(s.id for s in specs if explored or s.animate),
    )


def page_layout(config: Config, specs: Sequence[RunSpec]) -> dict[str, SweepLayout]:
    """Return the layout of every sweep of the config, by sweep name."""
    return {sweep.name: sweep_layout(sweep, [s for s in specs if s.sweep == sweep.name], config.defaults)
            for sweep in config.sweeps}
