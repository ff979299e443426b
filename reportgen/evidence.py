"""Capture, from one real run, the evidence for the course's graph questions (tasks 2, 3).

The report shows what torch itself did with the course's loss: the autograd graph
walked from ``loss.grad_fn`` (drawn by :mod:`reportgen.dag`), which tensors are leaves, what
``retain_grad()`` changes, that each iteration builds a fresh graph, and how
torch.fx / torch.jit traces freeze it into a static one. Everything returned is
plain data with memory addresses masked, so the report stays byte-reproducible.
"""

from __future__ import annotations

import re
import warnings
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .dag import Graph, GraphEdge, GraphNode

if TYPE_CHECKING:  # torch is imported lazily: only a build that trains pays for it
    import torch

#: The course's names for the values torch.fx names after their operation.
COURSE_NAMES = {
    "mul": "wx", "add": "y_pred", "sub": "y - y_pred", "pow_1": "(y - y_pred)**2",
    "mul_1": "0.5*(y - y_pred)**2", "mean": "loss",
}
BRANCH_TRACE_INPUT = (1.0, 2.0, 3.0)
BRANCH_PROBE_INPUT = (-1.0, -2.0, -3.0)

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]+")
# torch appends the C++ source location of the build machine; it says nothing about the run.
_TRIGGERED_RE = re.compile(r"\s*\(Triggered internally at [^)]*\)")


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

    autograd: Graph  # nodes are grad_fn Functions and AccumulateGrad leaves; edges follow next_functions
    forward: Graph  # the course's view: tensors are nodes, the operations label the edges
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
        autograd=autograd,
        forward=forward,
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
    return Graph(ids[id(root)], tuple(nodes), tuple(edges))


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
        branch_source=_source(double_if_positive),
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
    return Graph(root, tuple(nodes), tuple(edges))


def _source(function: Any) -> str:
    """Return a function's source, as a student reads it."""
    import inspect

    return inspect.getsource(function).strip()


def _clean(text: str) -> str:
    """Mask memory addresses and build-machine paths; strip trailing whitespace."""
    text = _TRIGGERED_RE.sub("", _ADDRESS_RE.sub("0x...", text))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _first_line(text: str) -> str:
    """Return the first line of a cleaned message."""
    return _clean(text).split("\n", 1)[0]
