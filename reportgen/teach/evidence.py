"""The evidence for the course's graph questions (tasks 2 and 3), as plain data captured from one real run.

:mod:`reportgen.teach.capture` records what autograd does with the course's loss (the graph walked from
``loss.grad_fn``, the leaves, ``retain_grad()``, ``.grad`` adding up, a fresh graph per iteration);
:mod:`reportgen.teach.tracing` records what the static tracers keep of it (torch.fx, torch.jit.trace,
torch.export, torch.compile). Everything here is plain data with memory addresses masked, so the report
stays byte-reproducible, and it is cached as JSON (no torch needed to read it back).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Any

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
    """A directed acyclic graph with one root (the loss)."""

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

    @property
    def trace_deprecated(self) -> bool:
        """True when this torch's torch.jit.trace warned, while tracing here, that it is deprecated."""
        return any("deprecat" in f"{category} {message}".lower() for category, message in self.trace_warnings)


@dataclass(frozen=True)
class StepProof:
    """Iteration k of the course run, frozen: its forward values, the gradients autograd sent back, and the step."""

    k: int
    lr: float
    w: float  # w_k, b_k: the values the forward pass of iteration k used
    b: float
    loss: float
    tensors: tuple[tuple[str, tuple[float, ...], tuple[float, ...] | None], ...]  # (name, value, d loss / d it): the
    # first two entries of each, the names of the data-flow graph; None where autograd computes no gradient (x)
    grad: tuple[float, float]  # (dL/dw, dL/db) from backward(), float32
    finite_difference: tuple[float, float]  # the same by central differences of the loss in float64
    after: tuple[float, float]  # (w_k+1, b_k+1): after course_step, the values iteration k+1 uses

    @property
    def step(self) -> tuple[float, float]:
        """−lr·∇L: what course_step subtracts, as a move on the loss surface."""
        return (-self.lr * self.grad[0], -self.lr * self.grad[1])

    @property
    def relative_errors(self) -> tuple[float, float]:
        """|autograd − finite difference| / |finite difference|, for w and b."""
        return tuple(abs(g - f) / max(abs(f), 1e-300) for g, f in zip(self.grad, self.finite_difference))


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
    step: StepProof | None = None  # one iteration of the course run tied to its graph
    eager_print: str = ""  # what a print() inside the model printed, run eagerly: debugging works as in Python
    eager_print_source: str = ""


def source_of(function: Any) -> str:
    """Return a function's source, as a student reads it."""
    return textwrap.dedent(inspect.getsource(function)).strip()


def clean(text: str) -> str:
    """Mask memory addresses and build-machine paths; strip trailing whitespace."""
    text = _TRIGGERED_RE.sub("", _ADDRESS_RE.sub("0x...", text))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def first_line(text: str) -> str:
    """Return the first line of a cleaned message."""
    return clean(text).split("\n", 1)[0]
