"""The scriptless explorer's CSS: one rule per radio value in use hides what the checked radio rules out.

The radio groups and each run's picks are decided with the page's layout (:mod:`reportgen.config.layout`). A
radio for value 2 of the first group has ``data-pick="0-2"``, and a run with that value has ``0-2`` among its
picks. One rule per token hides what the checked radio rules out::

    .explorer:has(input[data-pick="0-2"]:checked) [data-pick]:not(input, :target, [data-pick~="0-2"])

so what stays shown is the run that matches every group (and a run the URL points at, ``#run-<id>``).
A browser without ``:has()`` shows every card, as a plain list.
"""

from __future__ import annotations

from typing import Sequence

from reportgen.config.layout import Group


def explorer_css(groups: Sequence[Group]) -> str:
    """Return the rules that show the checked run of every explorer of a page (one per token in use)."""
    tokens = sorted({c.token for g in groups for c in g.choices}, key=lambda t: tuple(map(int, t.split("-"))))
    rules = [f'.explorer:has(input[data-pick="{t}"]:checked) [data-pick]:not(input, :target, [data-pick~="{t}"])'
             for t in tokens]
    if not rules:
        return ""
    return "/* The explorers: what a checked radio rules out is hidden (reportgen.site.explorer). */\n" + \
        ",\n".join(rules) + " { display: none; }\n"
