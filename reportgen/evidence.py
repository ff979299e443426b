"""Capture, from one real run, the evidence for the course's graph questions (tasks 2, 3).

The report shows what torch itself did with the course's loss: the autograd graph
walked from ``loss.grad_fn`` (drawn by :mod:`reportgen.dag`), which tensors are leaves, what
``retain_grad()`` changes, that each iteration builds a fresh graph, and how
torch.fx / torch.jit traces freeze it into a static one. Everything returned is
plain data with memory addresses masked, so the report stays byte-reproducible.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
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
class AccumulationProof:
    """What .grad does across backward passes: it adds up, which is why the course calls grad.zero_()."""

    grad_once: tuple[float, float]  # (w.grad, b.grad) after one backward
    grad_twice: tuple[float, float]  # after a second backward of the same loss, without zero_()
    steps: int
    losses_zeroed: tuple[float, ...]  # the course loop's losses, grad.zero_() after each update
    losses_accumulated: tuple[float, ...]  # the same loop without grad.zero_(): each step uses the sum so far


@dataclass(frozen=True)
class DynamicProof:
    """Two real iterations of the course loop, each with its own graph; and a graph whose shape follows the data."""

    grad_fn_names: tuple[str, str]
    grad_fn_distinct: bool  # loss_1.grad_fn is not loss_2.grad_fn, both alive
    same_structure: bool  # the two graphs have identical shape and labels
    losses: tuple[float, float]
    double_backward_error: str | None
    loop_source: str  # a function with a data-dependent Python loop
    loop_nodes: tuple[tuple[tuple[float, ...], int], ...]  # (input, nodes of its autograd graph) per input


@dataclass(frozen=True)
class StaticProof:
    """The same computation frozen by tracing, a branch a trace cannot follow, and PyTorch 2's answers to it."""

    fx_graph: str
    branch_source: str
    trace_input: tuple[float, ...]
    probe_input: tuple[float, ...]
    trace_warnings: tuple[tuple[str, str], ...]  # (category, first line) of each warning torch.jit.trace gave
    traced_output: tuple[float, ...]  # traced function on probe_input: the frozen branch
    eager_output: tuple[float, ...]  # the Python function on probe_input: the branch taken
    fx_branch_error: str | None  # torch.fx.symbolic_trace on the branch
    export_error: str | None  # torch.export.export of the branch as written
    cond_source: str  # the branch with torch.cond
    cond_outputs: tuple[tuple[float, ...], ...] | None  # the exported torch.cond program on trace_input, probe_input
    cond_ops: tuple[str, ...]  # the exported graph's operations
    cond_error: str | None  # why the machine could not export it
    compile_graphs: int | None  # graphs torch.compile (dynamo) made of the branch
    compile_breaks: int | None
    compile_reasons: tuple[str, ...]
    compile_outputs: tuple[tuple[float, ...], ...] | None  # the compiled function on trace_input, probe_input
    compile_error: str | None


@dataclass(frozen=True)
class GraphEvidence:
    """Everything the report shows for tasks 2 and 3, captured from one run."""

    autograd: Graph  # nodes are grad_fn Functions and AccumulateGrad leaves; edges follow next_functions
    forward: Graph  # the course's view: tensors are nodes, the operations label the edges
    tensors: tuple[TensorFacts, ...]  # x, y, w, b, wx, y_pred, loss
    non_leaf_grad_warning: str | None
    retain_grad: RetainGradProof
    accumulation: AccumulationProof
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
    named = {"x": xt, "y": yt, "w": w, "b": b, "wx": wx, "y_pred": y_pred, "loss": loss}
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
        accumulation=_accumulation_proof(xt, yt, w0, lr),
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


# Shown to students verbatim (inspect.getsource), hence no docstrings.
def double_if_positive(x):
    return x * 2 if x.sum() > 0 else x * -1


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
        loop_source=_source(double_until_large),
        loop_nodes=_loop_nodes(),
    )


def _accumulation_proof(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float) -> AccumulationProof:
    """Show .grad adding up: two backward passes without zero_(), and the course loop without it."""
    w, b = _parameters(w0)
    _, _, loss = _course_forward(x, y, w, b)
    loss.backward(retain_graph=True)
    once = (w.grad.item(), b.grad.item())
    loss.backward()
    twice = (w.grad.item(), b.grad.item())

    def loop(zero: bool) -> tuple[float, ...]:
        w, b = _parameters(w0)
        losses = []
        for _ in range(ACCUMULATION_STEPS):
            _, _, loss = _course_forward(x, y, w, b)
            loss.backward()
            b.data.sub_(lr * b.grad)
            w.data.sub_(lr * w.grad)
            if zero:
                w.grad.zero_()
                b.grad.zero_()
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
    seen = dict.fromkeys((c.category.__name__, _first_line(str(c.message))) for c in caught)
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
        trace_warnings=tuple(seen),
        traced_output=tuple(float(v) for v in traced_out),
        eager_output=tuple(float(v) for v in double_if_positive(probe)),
        fx_branch_error=fx_error,
        **_pytorch2(trace_input, probe),
    )
    return _fx_data_graph(gm), static


def _pytorch2(trace_input: torch.Tensor, probe: torch.Tensor) -> dict[str, Any]:
    """Try the branch on torch.export (as written, then with torch.cond) and on torch.compile; record what happened.

    Each is optional evidence: where this machine's torch cannot run one, the error is what the page shows.
    """
    import torch

    def double_if_positive_cond(x):
        return torch.cond(x.sum() > 0, lambda v: v * 2, lambda v: v * -1, (x,))

    class Branch(torch.nn.Module):
        def forward(self, x):
            return double_if_positive(x)

    class CondBranch(torch.nn.Module):
        def forward(self, x):
            return double_if_positive_cond(x)

    def compiled() -> tuple:
        import torch._dynamo

        explained = torch._dynamo.explain(double_if_positive)(trace_input)
        function = torch.compile(double_if_positive, backend="eager")  # dynamo's graphs, run without codegen
        outputs = tuple(tuple(float(v) for v in function(t)) for t in (trace_input, probe))
        torch._dynamo.reset()
        return explained, outputs

    # torch logs a refused export at length, through handlers of its own: the page shows the error instead.
    with _stderr_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, export_error = _attempt(lambda: torch.export.export(Branch(), (trace_input,)))
        program, cond_error = _attempt(lambda: torch.export.export(CondBranch(), (trace_input,)))
        dynamo, compile_error = _attempt(compiled)
    out: dict[str, Any] = {"cond_source": _source(double_if_positive_cond), "export_error": export_error,
                           "cond_error": cond_error, "compile_error": compile_error,
                           "cond_outputs": None, "cond_ops": (), "compile_graphs": None, "compile_breaks": None,
                           "compile_reasons": (), "compile_outputs": None}
    if program is not None:
        module = program.module()
        out["cond_outputs"] = tuple(tuple(float(v) for v in module(t)) for t in (trace_input, probe))
        out["cond_ops"] = tuple(dict.fromkeys(_op_name(n) for n in program.graph.nodes if n.op == "call_function"))
    if dynamo is not None:
        explained, out["compile_outputs"] = dynamo
        out["compile_graphs"], out["compile_breaks"] = explained.graph_count, explained.graph_break_count
        out["compile_reasons"] = tuple(dict.fromkeys(_first_line(str(r.reason)) for r in explained.break_reasons))
    return out


@contextlib.contextmanager
def _stderr_silenced():
    """Quiet torch for a while: its loggers, and file descriptor 2 (C code and handlers bound to stderr)."""
    import logging

    torch_log = logging.getLogger("torch")
    level = torch_log.level
    torch_log.setLevel(logging.CRITICAL)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        torch_log.setLevel(level)


def _attempt(action: Any) -> tuple[Any, str | None]:
    """Run one optional piece of evidence: return (its result, None), or (None, its error in one line)."""
    try:
        return action(), None
    except Exception as exc:  # noqa: BLE001 - any failure is what the page shows
        return None, f"{type(exc).__name__}: {_first_line(str(exc))}"


def _op_name(node: Any) -> str:
    """Return an exported node's operation as a reader knows it: aten.sum, cond, getitem."""
    target = node.target
    name = getattr(target, "__name__", None) or str(target)
    if hasattr(target, "_schema"):  # an aten OpOverload: aten::sum -> aten.sum
        name = str(target._schema.name).replace("::", ".")
    return name


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
    import textwrap

    return textwrap.dedent(inspect.getsource(function)).strip()


def _clean(text: str) -> str:
    """Mask memory addresses and build-machine paths; strip trailing whitespace."""
    text = _TRIGGERED_RE.sub("", _ADDRESS_RE.sub("0x...", text))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _first_line(text: str) -> str:
    """Return the first line of a cleaned message."""
    return _clean(text).split("\n", 1)[0]
