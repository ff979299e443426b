"""Capture, from one real run, the evidence for the course's graph questions (tasks 2, 3).

The report shows what torch itself did with the course's loss: the autograd graph
walked from ``loss.grad_fn`` (drawn as SVG), which tensors are leaves, what
``retain_grad()`` changes, that each iteration builds a fresh graph, and how
torch.fx / torch.jit traces freeze it into a static one. Everything returned is
plain data with memory addresses masked, so the report stays byte-reproducible.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
import warnings
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence
from xml.sax.saxutils import escape

import numpy as np

from .i18n import N_

if TYPE_CHECKING:  # torch is imported lazily: only a build that trains pays for it
    import torch

AUTOGRAD_CONVENTION = (
    "autograd: nodes are backward Functions (grad_fn) and AccumulateGrad leaves; edges follow "
    "next_functions, the way the gradient flows, from loss down to the leaves w and b"
)
FORWARD_CONVENTION = (
    "data: nodes are tensors, edges are the operations that combine them, the way the data "
    "flows, up to the loss (recorded by torch.fx.symbolic_trace)"
)
#: The course's names for the values torch.fx names after their operation.
COURSE_NAMES = {
    "mul": "wx", "add": "y_pred", "sub": "y - y_pred", "pow_1": "(y - y_pred)**2",
    "mul_1": "0.5*(y - y_pred)**2", "mean": "loss",
}
#: Titles and captions drawn in the graph SVGs (translated where the page is written).
AUTOGRAD_TITLE = N_("PyTorch autograd graph of the course loss")
AUTOGRAD_CAPTION = N_("autograd graph: grad_fn nodes, arrows follow next_functions to the leaves")
FORWARD_TITLE = N_("Data-flow graph of the course loss")
FORWARD_CAPTION = N_("data view: tensors are nodes, operations label the arrows")
BRANCH_TRACE_INPUT = (1.0, 2.0, 3.0)
BRANCH_PROBE_INPUT = (-1.0, -2.0, -3.0)

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]+")
# torch appends the C++ source location of the build machine; it says nothing about the run.
_TRIGGERED_RE = re.compile(r"\s*\(Triggered internally at [^)]*\)")


@dataclass(frozen=True)
class GraphNode:
    """One node of a graph; leaves carry the name and shape of their tensor."""

    id: str
    label: str  # e.g. "MeanBackward0", "AccumulateGrad", or a tensor name in the data view
    kind: str  # "function" | "leaf" (autograd); "input" | "leaf" | "tensor" (data view)
    tensor: str | None = None  # "w" / "b" for a leaf
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class GraphEdge:
    """A directed edge between two node ids, with an optional operation label."""

    source: str
    target: str
    label: str = ""


@dataclass(frozen=True)
class Graph:
    """A directed acyclic graph and the convention it is drawn in."""

    convention: str
    root: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True)
class TensorFacts:
    """What torch reports about one tensor of the course's forward pass."""

    name: str
    is_leaf: bool
    requires_grad: bool
    grad_fn: str | None  # class name of .grad_fn; None for a leaf
    grad_is_none: bool  # after loss.backward()


@dataclass(frozen=True)
class RetainGradProof:
    """y_pred.grad after ``y_pred.retain_grad()`` and a fresh backward pass."""

    tensor: str
    grad_is_none: bool
    grad_shape: tuple[int, ...]
    grad_head: tuple[float, ...]  # the first two values
    matches_formula: bool  # grad == (y_pred - y) / n, d loss / d y_pred


@dataclass(frozen=True)
class DynamicProof:
    """Two real iterations of the course loop, each with its own graph."""

    grad_fn_names: tuple[str, str]
    grad_fn_distinct: bool  # `is not` and different id() while both are alive
    same_structure: bool  # the two graphs have identical shape and labels
    losses: tuple[float, float]
    double_backward_error: str | None


@dataclass(frozen=True)
class StaticProof:
    """The same computation frozen by tracing, and a branch a trace cannot follow."""

    fx_graph: str
    fx_code: str
    jit_code: str | None  # None where torch.jit.trace failed
    branch_source: str
    trace_input: tuple[float, ...]
    probe_input: tuple[float, ...]
    trace_warning: str | None  # the TracerWarning torch.jit.trace emitted
    traced_output: tuple[float, ...]  # traced function on probe_input: the frozen branch
    eager_output: tuple[float, ...]  # the Python function on probe_input: the branch taken
    fx_branch_error: str | None  # torch.fx.symbolic_trace on the branch


@dataclass(frozen=True)
class GraphEvidence:
    """Everything the report shows for tasks 2 and 3, captured from one run."""

    torch_version: str
    autograd: Graph
    svg: str  # the autograd graph
    forward: Graph
    forward_svg: str
    tensors: tuple[TensorFacts, ...]  # w, b, wx, y_pred, loss
    non_leaf_grad_warning: str | None
    retain_grad: RetainGradProof
    dynamic: DynamicProof
    static: StaticProof


def capture_graph_evidence(x: np.ndarray, y: np.ndarray, w0: float, lr: float) -> GraphEvidence:
    """Build the course's loss on one run's data and record what torch does with it."""
    import torch

    with torch.enable_grad():  # the caller may be inside no_grad; the evidence needs a graph
        return _capture(x, y, w0, lr)


def _capture(x: np.ndarray, y: np.ndarray, w0: float, lr: float) -> GraphEvidence:
    """Capture every piece of evidence, grad mode on."""
    import torch

    xt = torch.from_numpy(np.asarray(x, np.float32).reshape(-1, 1).copy())
    yt = torch.from_numpy(np.asarray(y, np.float32).reshape(-1, 1).copy())

    w, b = _parameters(w0)
    wx, y_pred, loss = _course_forward(xt, yt, w, b)
    autograd = _walk_autograd(loss.grad_fn, {"w": w, "b": b})
    loss.backward()
    named = {"w": w, "b": b, "wx": wx, "y_pred": y_pred, "loss": loss}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tensors = tuple(
            TensorFacts(name, t.is_leaf, t.requires_grad,
                        type(t.grad_fn).__name__ if t.grad_fn is not None else None, t.grad is None)
            for name, t in named.items()
        )
    user = [str(c.message) for c in caught if issubclass(c.category, UserWarning)]

    w, b = _parameters(w0)
    _, y_pred, loss = _course_forward(xt, yt, w, b)
    y_pred.retain_grad()
    loss.backward()
    grad = y_pred.grad
    retain = RetainGradProof(
        tensor="y_pred",
        grad_is_none=grad is None,
        grad_shape=tuple(grad.shape),
        grad_head=tuple(float(v) for v in grad.ravel()[:2]),
        matches_formula=bool(torch.allclose(grad, (y_pred - yt).detach() / len(xt))),
    )
    forward, static = _static_proof(xt, yt, w0)
    return GraphEvidence(
        torch_version=str(torch.__version__),
        autograd=autograd,
        svg=render_svg(autograd, AUTOGRAD_TITLE, AUTOGRAD_CAPTION),
        forward=forward,
        forward_svg=render_svg(forward, FORWARD_TITLE, FORWARD_CAPTION),
        tensors=tensors,
        non_leaf_grad_warning=_first_line(user[0]) if user else None,
        retain_grad=retain,
        dynamic=_dynamic_proof(xt, yt, w0, lr),
        static=static,
    )


def _parameters(w0: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Create w and b as the course does."""
    import torch

    return torch.tensor([w0], requires_grad=True), torch.zeros(1, requires_grad=True)


# No annotations on the traced functions below: torch.fx would print them into its graph.
def _course_forward(x, y, w, b):
    """Run the course's forward pass, op for op; return wx, y_pred and loss."""
    import torch

    wx = torch.mul(w, x)
    y_pred = torch.add(wx, b)
    loss = (0.5 * (y - y_pred) ** 2).mean()
    return wx, y_pred, loss


def course_loss(x, y, w, b):
    """Return the course's loss; the function the static traces record."""
    return _course_forward(x, y, w, b)[2]


# Shown to students verbatim (inspect.getsource), hence no docstring.
def double_if_positive(x):
    return x * 2 if x.sum() > 0 else x * -1


def _walk_autograd(root: Any, leaves: dict[str, torch.Tensor]) -> Graph:
    """Walk next_functions breadth-first from root; number nodes in visiting order."""
    ids: dict[int, str] = {}
    alive: list[Any] = []  # holds every node so no id() can be reused during the walk
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []

    def register(fn: Any) -> str:
        if id(fn) not in ids:
            ids[id(fn)] = node_id = f"n{len(ids)}"
            alive.append(fn)
            var = getattr(fn, "variable", None)
            if var is None:
                nodes.append(GraphNode(node_id, type(fn).__name__, "function"))
            else:  # identity, not equality: w and b could hold equal values
                name = next((n for n, t in leaves.items() if t is var), "?")
                nodes.append(GraphNode(node_id, type(fn).__name__, "leaf", name, tuple(var.shape)))
        return ids[id(fn)]

    queue = deque([root])
    register(root)
    while queue:
        fn = queue.popleft()
        for nxt, _ in fn.next_functions:
            if nxt is None:  # an input that needs no gradient: x, y, the constants
                continue
            new = id(nxt) not in ids
            edges.append(GraphEdge(ids[id(fn)], register(nxt)))
            if new:
                queue.append(nxt)
    return Graph(AUTOGRAD_CONVENTION, ids[id(root)], tuple(nodes), tuple(edges))


def _dynamic_proof(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float) -> DynamicProof:
    """Run two iterations of the course loop and compare the graphs they built."""
    w, b = _parameters(w0)
    grad_fns, losses = [], []
    for _ in range(2):
        _, _, loss = _course_forward(x, y, w, b)
        loss.backward()
        b.data.sub_(lr * b.grad)
        w.data.sub_(lr * w.grad)
        w.grad.zero_()
        b.grad.zero_()
        grad_fns.append(loss.grad_fn)  # kept alive in the list, so the ids stay unique
        losses.append(loss.item())
    first, second = grad_fns
    try:
        loss.backward()  # the second iteration's graph, already freed by its backward
        error = None
    except RuntimeError as exc:
        error = _clean(str(exc))
    return DynamicProof(
        grad_fn_names=(type(first).__name__, type(second).__name__),
        grad_fn_distinct=first is not second and id(first) != id(second),
        same_structure=_walk_autograd(first, {"w": w, "b": b}) == _walk_autograd(second, {"w": w, "b": b}),
        losses=(losses[0], losses[1]),
        double_backward_error=error,
    )


def _static_proof(x: torch.Tensor, y: torch.Tensor, w0: float) -> tuple[Graph, StaticProof]:
    """Trace the course loss and a data-dependent branch; record what the traces kept."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    w, b = _parameters(w0)
    gm = torch.fx.symbolic_trace(course_loss)
    ShapeProp(gm).propagate(x, y, w, b)
    with warnings.catch_warnings(record=True):  # torch.jit.trace is deprecated in recent torch
        warnings.simplefilter("always")
        try:
            jit_code: str | None = _clean(torch.jit.trace(course_loss, (x, y, w, b)).code)
        except Exception:  # optional evidence: absent from builds where tracing fails
            jit_code = None

    trace_input = torch.tensor(BRANCH_TRACE_INPUT)
    probe = torch.tensor(BRANCH_PROBE_INPUT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(double_if_positive, (trace_input,))
        traced_out = traced(probe)
    tracer = [str(c.message) for c in caught if c.category.__name__ == "TracerWarning"]
    try:
        torch.fx.symbolic_trace(double_if_positive)
        fx_error = None
    except Exception as exc:  # torch raises TraceError on data-dependent control flow
        fx_error = f"{type(exc).__name__}: {_first_line(str(exc))}"
    static = StaticProof(
        fx_graph=_clean(str(gm.graph)),
        fx_code=_clean(gm.code),
        jit_code=jit_code,
        branch_source=inspect.getsource(double_if_positive).strip(),
        trace_input=BRANCH_TRACE_INPUT,
        probe_input=BRANCH_PROBE_INPUT,
        trace_warning=_first_line(tracer[0]) if tracer else None,
        traced_output=tuple(float(v) for v in traced_out),
        eager_output=tuple(float(v) for v in double_if_positive(probe)),
        fx_branch_error=fx_error,
    )
    return _fx_data_graph(gm), static


def _fx_data_graph(gm: Any) -> Graph:
    """Turn a shape-propagated fx graph into the course's view: tensors as nodes, ops as edges."""
    import torch

    nodes, edges = [], []
    for n in gm.graph.nodes:
        if n.op == "output":
            continue
        name = COURSE_NAMES.get(n.name, n.name)
        kind = "tensor" if n.op != "placeholder" else "leaf" if n.name in ("w", "b") else "input"
        meta = n.meta.get("tensor_meta")
        shape = tuple(meta.shape) if meta is not None else None
        nodes.append(GraphNode(n.name, name, kind, name if kind == "leaf" else None, shape))
        if n.op in ("call_function", "call_method"):
            op = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
            consts = [repr(a) for a in n.args if not isinstance(a, torch.fx.Node)]
            for arg in n.args:
                if isinstance(arg, torch.fx.Node):
                    edges.append(GraphEdge(arg.name, n.name, " ".join([op, *consts])))
    root = next(n.id for n in nodes if n.label == "loss")
    return Graph(FORWARD_CONVENTION, root, tuple(nodes), tuple(edges))


def _clean(text: str) -> str:
    """Mask memory addresses and build-machine paths; strip trailing whitespace."""
    text = _TRIGGERED_RE.sub("", _ADDRESS_RE.sub("0x...", text))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _first_line(text: str) -> str:
    """Return the first line of a cleaned message."""
    return _clean(text).split("\n", 1)[0]


# ---- SVG: longest-path layering, a dummy point per skipped row, barycentre ordering ----

_CHAR_W, _LINE_H, _PAD, _GAP_X, _GAP_Y, _MARGIN, _CAPTION_H = 8.0, 16, 9, 30, 50, 20, 30
_COLOURS = {  # fill, stroke
    "function": ("#e8f0fb", "#3b6ea8"), "tensor": ("#e8f0fb", "#3b6ea8"),
    "leaf": ("#fde3b8", "#b06400"), "input": ("#eeeeee", "#777777"),
}


def _lines(node: GraphNode, leaf: str = "leaf") -> list[str]:
    """Return the text lines drawn inside a node's box."""
    lines = [f"{node.tensor} ({leaf})" if node.kind == "leaf" else node.label]
    if node.kind == "leaf" and node.label != node.tensor:
        lines.append(node.label)
    if node.shape is not None:
        lines.append(f"shape {node.shape}")
    return lines


def _width(text: str) -> float:
    """Return the drawn width of ``text``: a wide (CJK) character takes two monospace cells."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text) * _CHAR_W


def _num(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def render_svg(graph: Graph, title: str, caption: str, leaf: str = "leaf") -> str:
    """Draw a graph with its root on top; return a standalone SVG document (``leaf`` marks the leaves)."""
    # Lay out with the root on top. The data view's edges point up, towards the loss.
    downward = graph.root not in {e.target for e in graph.edges}
    pairs = [(e.source, e.target) if downward else (e.target, e.source) for e in graph.edges]
    ids = [n.id for n in graph.nodes]
    above = {i: [u for u, v in pairs if v == i] for i in ids}
    rank: dict[str, int] = {}

    def depth(i: str) -> int:  # longest path from a top node
        if i not in rank:
            rank[i] = max((depth(u) + 1 for u in above[i]), default=0)
        return rank[i]

    bottom = max(depth(i) for i in ids)
    sources = {u for u, _ in pairs}
    rank.update({i: bottom for i in ids if i not in sources})  # leaves and inputs share the bottom row
    rows = [[i for i in ids if rank[i] == r] for r in range(bottom + 1)]
    width = {n.id: max(_width(s) for s in _lines(n, leaf)) + 2 * _PAD for n in graph.nodes}
    height = {n.id: len(_lines(n, leaf)) * _LINE_H + _PAD for n in graph.nodes}
    up: dict[str, list[str]] = {i: [] for i in ids}
    down: dict[str, list[str]] = {i: [] for i in ids}
    routes = []
    for k, (u, v) in enumerate(pairs):  # a long edge passes one zero-width dummy per row it skips
        chain = [u, *(f"_d{k}_{r}" for r in range(rank[u] + 1, rank[v])), v]
        for r, d in enumerate(chain[1:-1], rank[u] + 1):
            rows[r].append(d)
            rank[d], width[d], height[d], up[d], down[d] = r, 0.0, 0.0, [], []
        for a, c in zip(chain, chain[1:]):
            up[c].append(a)
            down[a].append(c)
        routes.append(chain)

    x = {i: float(j) for row in rows for j, i in enumerate(row)}
    for order, near in ((rows, up), (rows[::-1], down), (rows, up)):
        for row in order:  # move each node over its neighbours, keep the order, never overlap
            want = {i: sum(x[p] for p in near[i]) / len(near[i]) if near[i] else x[i] for i in row}
            row.sort(key=want.__getitem__)
            right = -float("inf")
            for i in row:
                x[i] = max(want[i], right + _GAP_X + width[i] / 2)
                right = x[i] + width[i] / 2
    shift = _MARGIN - min(x[i] - width[i] / 2 for i in x)
    x = {i: v + shift for i, v in x.items()}
    row_h = [max([height[i] for i in row] + [_LINE_H]) for row in rows]
    y, top = {}, _MARGIN + _CAPTION_H
    for row, h in zip(rows, row_h):
        y.update({i: top + h / 2 for i in row})
        top += h + _GAP_Y
    total_w = max(max(x[i] + width[i] / 2 for i in x) + _MARGIN, _width(caption) + 2 * _MARGIN)
    total_h = top - _GAP_Y + _MARGIN

    # Spread the edges meeting one side of a box across it, in the order of where they come from.
    port: dict[tuple[int, int], float] = {}
    for end, nxt in ((0, 1), (-1, -2)):
        sides: dict[str, list[int]] = {}
        for k, chain in enumerate(routes):
            sides.setdefault(chain[end], []).append(k)
        for i, ks in sides.items():
            ks.sort(key=lambda k: x[routes[k][nxt]])
            for j, k in enumerate(ks):
                port[(k, end)] = x[i] - width[i] / 2 + width[i] * (j + 1) / (len(ks) + 1)

    size = f'width="{_num(total_w)}" height="{_num(total_h)}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} viewBox="0 0 {_num(total_w)} {_num(total_h)}" '
        'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" {size} fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 12}" fill="#333333">{escape(caption)}</text>',
    ]
    labels = []
    for k, (edge, chain) in enumerate(zip(graph.edges, routes)):
        u, v = chain[0], chain[-1]
        pts = [(port[(k, 0)], y[u] + height[u] / 2)]
        for d in chain[1:-1]:  # straight down through each skipped row
            pts += [(x[d], y[d] - row_h[rank[d]] / 2), (x[d], y[d] + row_h[rank[d]] / 2)]
        pts.append((port[(k, -1)], y[v] - height[v] / 2))
        if edge.label:  # beside the upper box: the consumer in the data view
            (ax, ay), (bx, by) = pts[0], pts[1]
            labels.append(f'<text x="{_num((ax + bx) / 2)}" y="{_num((ay + by) / 2 + 4)}" text-anchor="middle" '
                          'font-size="11" fill="#8a3b00" stroke="#ffffff" stroke-width="4" '
                          f'paint-order="stroke">{escape(edge.label)}</text>')
        out.append(_arrow(pts if downward else pts[::-1]))
    for n in graph.nodes:
        fill, stroke = _COLOURS.get(n.kind, _COLOURS["function"])
        w, h, cx, top = width[n.id], height[n.id], x[n.id], y[n.id] - height[n.id] / 2
        out.append(f'<rect x="{_num(cx - w / 2)}" y="{_num(top)}" width="{_num(w)}" height="{_num(h)}" '
                   f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        for j, line in enumerate(_lines(n, leaf)):
            bold = ' font-weight="bold"' if j == 0 else ""
            out.append(f'<text x="{_num(cx)}" y="{_num(top + _PAD / 2 + _LINE_H * j + 13)}" '
                       f'text-anchor="middle" fill="#111111"{bold}>{escape(line)}</text>')
    return "\n".join(out + labels + ["</svg>"]) + "\n"


def _arrow(pts: Sequence[tuple[float, float]]) -> str:
    """Draw a polyline with an arrowhead at its last point."""
    (px, py), (qx, qy) = pts[-2], pts[-1]
    length = max(((qx - px) ** 2 + (qy - py) ** 2) ** 0.5, 1e-9)
    ux, uy = (qx - px) / length, (qy - py) / length
    head = [(qx, qy), (qx - 9 * ux + 4 * uy, qy - 9 * uy - 4 * ux), (qx - 9 * ux - 4 * uy, qy - 9 * uy + 4 * ux)]
    line = [*pts[:-1], (qx - 8 * ux, qy - 8 * uy)]  # stop short so the line does not blunt the tip

    def fmt(points: Sequence[tuple[float, float]]) -> str:
        return " ".join(f"{_num(a)},{_num(b)}" for a, b in points)

    return (f'<polyline points="{fmt(line)}" fill="none" stroke="#555555" stroke-width="1.4"/>'
            f'<polygon points="{fmt(head)}" fill="#555555"/>')
