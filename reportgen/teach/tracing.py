"""Capture what the static tracers keep of the course's loss, and where they fail (the evidence of task 3).

torch.fx and torch.jit.trace freeze the course's forward pass into a graph; a data-dependent branch shows what
a trace cannot follow, and what PyTorch 2 does about it (torch.export with torch.cond, torch.compile's graph
breaks). Where this machine's torch cannot run one of them, the error is the evidence.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from reportgen.teach.evidence import (
    Graph,
    GraphEdge,
    GraphNode,
    StaticProof,
    clean,
    first_line,
    source_of,
)
from reportgen.train.course import course_forward, initial_parameters

if TYPE_CHECKING:
    import torch

#: The course's names for the values torch.fx names after their operation.
COURSE_NAMES = {
    "mul": "wx", "add": "y_pred", "sub": "y - y_pred", "pow_1": "(y - y_pred)**2",
    "mul_1": "0.5*(y - y_pred)**2", "mean": "loss",
}
BRANCH_TRACE_INPUT = (1.0, 2.0, 3.0)
BRANCH_PROBE_INPUT = (-1.0, -2.0, -3.0)


def course_loss(x, y, w, b):
    """Return the course's loss; the function the static traces record."""
    return course_forward(x, y, w, b)[2]


# Shown to students verbatim (inspect.getsource), hence no docstrings.
def double_if_positive(x):
    return x * 2 if x.sum() > 0 else x * -1



def static_proof(x: torch.Tensor, y: torch.Tensor, w0: float) -> tuple[Graph, StaticProof]:
    """Trace the course loss and a data-dependent branch; record what the traces kept."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    w, b = initial_parameters(w0)
    gm = torch.fx.symbolic_trace(course_loss)
    ShapeProp(gm).propagate(x, y, w, b)

    trace_input = torch.tensor(BRANCH_TRACE_INPUT)
    probe = torch.tensor(BRANCH_PROBE_INPUT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(double_if_positive, (trace_input,))
        traced_out = traced(probe)
    seen = dict.fromkeys((c.category.__name__, first_line(str(c.message))) for c in caught)
    try:
        torch.fx.symbolic_trace(double_if_positive)
        fx_error = None
    except Exception as exc:  # torch raises TraceError on data-dependent control flow
        fx_error = f"{type(exc).__name__}: {first_line(str(exc))}"
    static = StaticProof(
        fx_graph=clean(str(gm.graph)),
        branch_source=source_of(double_if_positive),
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
    out: dict[str, Any] = {"cond_source": source_of(double_if_positive_cond), "export_error": export_error,
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
        out["compile_reasons"] = tuple(dict.fromkeys(first_line(str(r.reason)) for r in explained.break_reasons))
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
        return None, f"{type(exc).__name__}: {first_line(str(exc))}"


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

