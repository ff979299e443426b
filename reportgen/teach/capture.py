"""Capture, from one real run, what autograd does with the course's loss (the evidence of task 2).

The autograd graph walked from ``loss.grad_fn`` (drawn by :mod:`reportgen.figures.dag`), which tensors are
leaves, what ``retain_grad()`` changes, how ``.grad`` adds up without ``zero_()``, and that each iteration
builds a fresh graph. The static side of task 3 is :mod:`reportgen.teach.tracing`.
"""

from __future__ import annotations

import warnings
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.teach.evidence import (
    AccumulationProof,
    DynamicProof,
    Graph,
    GraphEdge,
    GraphEvidence,
    GraphNode,
    RetainGradProof,
    StepProof,
    TensorFacts,
    clean,
    first_line,
    source_of,
)
from reportgen.teach.tracing import static_proof
from reportgen.train.course import course_forward, course_step, initial_parameters

if TYPE_CHECKING:  # torch is imported lazily: only a build that trains pays for it
    import torch


def capture_graph_evidence(x: np.ndarray, y: np.ndarray, w0: float, lr: float, step: int = 1) -> GraphEvidence:
    """Build the course's loss on one run's data and record what torch does with it; freeze iteration ``step``."""
    import torch

    with torch.enable_grad():  # the caller may be inside no_grad; the evidence needs a graph
        return _capture(x, y, w0, lr, step)


def _capture(x: np.ndarray, y: np.ndarray, w0: float, lr: float, step: int) -> GraphEvidence:
    """Capture every piece of evidence, grad mode on."""
    import torch

    xt = torch.from_numpy(np.asarray(x, np.float32).reshape(-1, 1).copy())
    yt = torch.from_numpy(np.asarray(y, np.float32).reshape(-1, 1).copy())

    w, b = initial_parameters(w0)
    wx, y_pred, loss = course_forward(xt, yt, w, b)
    autograd = _walk_autograd(loss.grad_fn, {"w": w, "b": b})
    loss.backward()
    named = {"x": xt, "y": yt, "w": w, "b": b, "wx": wx, "y_pred": y_pred, "loss": loss}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tensors = tuple(
            TensorFacts(name, t.is_leaf, t.requires_grad,
                        type(t.grad_fn).__name__ if t.grad_fn is not None else None, t.grad is None)
            for name, t in named.items()
        )
    user = [str(c.message) for c in caught if issubclass(c.category, UserWarning)]

    w, b = initial_parameters(w0)
    _, y_pred, loss = course_forward(xt, yt, w, b)
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
    forward, static = static_proof(xt, yt, w0)
    return GraphEvidence(
        autograd=autograd,
        forward=forward,
        tensors=tensors,
        non_leaf_grad_warning=first_line(user[0]) if user else None,
        retain_grad=retain,
        accumulation=_accumulation_proof(xt, yt, w0, lr),
        dynamic=_dynamic_proof(xt, yt, w0, lr),
        static=static,
        step=_step_proof(xt, yt, w0, lr, step),
        eager_print=_printed(forward_printing, xt, *initial_parameters(w0)),
        eager_print_source=source_of(forward_printing),
    )


def forward_printing(x, w, b):
    y_pred = w * x + b
    print("inside the model: y_pred[:2] =", y_pred[:2].flatten().tolist())
    return y_pred


def _printed(function: Any, *args: Any) -> str:
    """What ``function`` printed, run eagerly with real tensors."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        function(*args)
    return out.getvalue().strip()


def _step_proof(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float, k: int) -> StepProof:
    """Run the course loop to iteration k, then record that iteration's forward values, gradients and step."""
    w, b = initial_parameters(w0)
    for _ in range(k):
        _, _, loss = course_forward(x, y, w, b)
        loss.backward()
        course_step(w, b, lr)
    at = (float(w.item()), float(b.item()))
    wx, y_pred, loss = course_forward(x, y, w, b)
    for t in (wx, y_pred, loss):
        t.retain_grad()
    loss.backward()
    head = lambda t: tuple(float(v) for v in t.detach().ravel()[:2])  # noqa: E731
    tensors = (("x", head(x), None), ("w", head(w), head(w.grad)), ("b", head(b), head(b.grad)),
               ("wx", head(wx), head(wx.grad)), ("y_pred", head(y_pred), head(y_pred.grad)),
               ("loss", head(loss), head(loss.grad)))
    grad = (float(w.grad.item()), float(b.grad.item()))
    course_step(w, b, lr)
    return StepProof(k, lr, at[0], at[1], float(loss.item()), tensors, grad,
                     finite_difference(x.numpy(), y.numpy(), *at), (float(w.item()), float(b.item())))


def finite_difference(x: np.ndarray, y: np.ndarray, w: float, b: float) -> tuple[float, float]:
    """(dL/dw, dL/db) of the course's loss by central differences, in float64."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()

    def loss(w_: float, b_: float) -> float:
        return float(np.mean(0.5 * (y - (w_ * x + b_)) ** 2))

    hw, hb = 1e-6 * max(1.0, abs(w)), 1e-6 * max(1.0, abs(b))
    return ((loss(w + hw, b) - loss(w - hw, b)) / (2 * hw), (loss(w, b + hb) - loss(w, b - hb)) / (2 * hb))


# Shown to students verbatim (inspect.getsource), hence no docstrings.
def double_until_large(x):
    while x.abs().sum() < 10:
        x = x * 2
    return x.sum()


#: Inputs of double_until_large: the loop runs a different number of times, so the graph has another shape.
LOOP_INPUTS = ((1.0, 1.0), (3.0, 3.0))
#: Iterations of the course loop run with and without grad.zero_().
ACCUMULATION_STEPS = 5


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
    w, b = initial_parameters(w0)
    grad_fns, losses = [], []
    for _ in range(2):
        _, _, loss = course_forward(x, y, w, b)
        loss.backward()
        course_step(w, b, lr)
        grad_fns.append(loss.grad_fn)  # kept alive in the list, so the ids stay unique
        losses.append(loss.item())
    first, second = grad_fns
    try:
        loss.backward()  # the second iteration's graph, already freed by its backward
        error = None
    except RuntimeError as exc:
        error = clean(str(exc))
    return DynamicProof(
        grad_fn_names=(type(first).__name__, type(second).__name__),
        grad_fn_distinct=first is not second and id(first) != id(second),
        same_structure=_walk_autograd(first, {"w": w, "b": b}) == _walk_autograd(second, {"w": w, "b": b}),
        losses=(losses[0], losses[1]),
        double_backward_error=error,
        loop_source=source_of(double_until_large),
        loop_nodes=_loop_nodes(),
    )


def _accumulation_proof(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float) -> AccumulationProof:
    """Show .grad adding up: two backward passes without zero_(), and the course loop without it."""
    w, b = initial_parameters(w0)
    _, _, loss = course_forward(x, y, w, b)
    loss.backward(retain_graph=True)
    once = (w.grad.item(), b.grad.item())
    loss.backward()
    twice = (w.grad.item(), b.grad.item())

    def loop(zero: bool) -> tuple[float, ...]:
        w, b = initial_parameters(w0)
        losses = []
        for _ in range(ACCUMULATION_STEPS):
            _, _, loss = course_forward(x, y, w, b)
            loss.backward()
            course_step(w, b, lr, zero_grad=zero)
            losses.append(loss.item())
        return tuple(losses)

    return AccumulationProof(once, twice, ACCUMULATION_STEPS, loop(True), loop(False))


def _loop_nodes() -> tuple[tuple[tuple[float, ...], int], ...]:
    """Build double_until_large's graph for each input; return the number of nodes each graph has."""
    import torch

    out = []
    for values in LOOP_INPUTS:
        x = torch.tensor(values, requires_grad=True)
        graph = _walk_autograd(double_until_large(x).grad_fn, {"x": x})
        out.append((values, len(graph.nodes)))
    return tuple(out)

