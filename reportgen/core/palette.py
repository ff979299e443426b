"""The report's colours, named once: the frames, the plots, the loss charts, the graphs and the printed footer.

The stylesheet (templates/style.css) names the page's own colours as CSS variables; :data:`MUTED` is its
``--muted``, the grey of secondary text, and the printed page's footer uses the same.
"""

from __future__ import annotations

#: A run's views: the fit and its path on the loss surface, the data and the loss curve, the true line.
FIT = "#c62828"
PATH = "#c62828"
POINTS = "#1f5fa8"
LOSS = "#1f5fa8"
TRUE = "0.35"  # matplotlib's grey scale: 35 % black
#: The stop threshold, the loss floor, the Hessian's eigen-directions and the loss surface's contours.
THRESHOLD = "#d35400"
FLOOR = "#2e7d32"
EIGEN = "#6a3d9a"
CONTOUR = "0.62"
#: Secondary text and axes (the stylesheet's --muted), the other runs' curves, grid lines.
MUTED = "#5b6770"
OTHER_RUNS = "#b8c0c8"
GRID = "#e6eaee"
#: A heatmap cell of a run that did not stop: face, hatching and hatch colour, told apart without colour too.
BUDGET_EXHAUSTED_CELL = ("#c8c8c8", "//", "#4d4d4d")
DIVERGED_CELL = ("#8b1a1a", "xx", "#f4c7c7")
#: Several runs' paths on one surface (the remedies): Okabe-Ito colours, told apart by colour-blind readers too.
SERIES = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")
#: The graphs' boxes (fill, stroke) by kind of node, their arrows, their text and their edge labels.
GRAPH_NODE = {"function": ("#e8f0fb", "#3b6ea8"), "tensor": ("#e8f0fb", "#3b6ea8"),
              "leaf": ("#fde3b8", "#b06400"), "input": ("#eeeeee", "#777777")}
GRAPH_ARROW = "#555555"
GRAPH_TEXT = "#111111"
GRAPH_CAPTION = "#333333"
GRAPH_EDGE_LABEL = "#8a3b00"
