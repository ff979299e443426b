"""The computational-graph evidence, captured from a real run of the course's loss, and its drawing."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.figures.dag import graph_svg
from reportgen.teach.capture import _walk_autograd, capture_graph_evidence
from reportgen.teach.evidence import Graph, GraphEdge, GraphEvidence, GraphNode

X = np.array([1, 2, 3, 4], np.float32)
Y = 2 * X + 5
W0, LR = 0.3, 0.05
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def ev() -> GraphEvidence:
    return capture_graph_evidence(X, Y, W0, LR)


@pytest.fixture(params=["autograd", "forward"])
def graph(request, ev) -> Graph:
    return getattr(ev, request.param)


def node(g: Graph, node_id: str) -> GraphNode:
    return next(n for n in g.nodes if n.id == node_id)


def facts(ev):
    return {t.name: t for t in ev.tensors}


def svg_root(text: str) -> ET.Element:
    return ET.fromstring(text)


def box_rects(root: ET.Element) -> list[tuple[float, float, float, float]]:
    """Return the node boxes: every rect but the background."""
    rects = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height")) for r in root.iter(f"{SVG}rect")]
    return rects[1:]


def assert_layout_sound(text: str) -> None:
    root = svg_root(text)
    _, _, vw, vh = (float(v) for v in root.get("viewBox").split())
    boxes = box_rects(root)
    for x, y, w, h in boxes:
        assert 0 <= x and x + w <= vw and 0 <= y and y + h <= vh
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "boxes overlap"


# ---- the autograd graph ----


def test_walk_starts_at_mean_backward(ev):
    assert node(ev.autograd, ev.autograd.root).label == "MeanBackward0"
    assert ev.autograd.nodes[0].id == ev.autograd.root


def test_walk_reaches_both_leaves_by_identity(ev):
    leaves = [n for n in ev.autograd.nodes if n.kind == "leaf"]
    assert sorted(n.tensor for n in leaves) == ["b", "w"]
    assert all(n.label == "AccumulateGrad" and n.shape == (1,) for n in leaves)


def test_walk_records_the_course_operations(ev):
    labels = sorted(n.label for n in ev.autograd.nodes if n.kind == "function")
    assert labels == ["AddBackward0", "MeanBackward0", "MulBackward0", "MulBackward0", "PowBackward0", "SubBackward0"]


def test_leaves_are_sinks_and_everything_is_reachable(ev):
    g = ev.autograd
    sources = {e.source for e in g.edges}
    assert not sources & {n.id for n in g.nodes if n.kind == "leaf"}
    seen, queue = {g.root}, deque([g.root])
    while queue:
        u = queue.popleft()
        for e in g.edges:
            if e.source == u and e.target not in seen:
                seen.add(e.target)
                queue.append(e.target)
    assert seen == {n.id for n in g.nodes}


def test_edges_reference_existing_nodes(graph):
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert all(e.source in ids and e.target in ids for e in graph.edges)
    assert graph.root in ids


def test_graph_is_acyclic(graph):
    indeg = {n.id: 0 for n in graph.nodes}
    for e in graph.edges:
        indeg[e.target] += 1
    ready = [i for i, d in indeg.items() if d == 0]
    removed = 0
    while ready:
        u = ready.pop()
        removed += 1
        for e in graph.edges:
            if e.source == u:
                indeg[e.target] -= 1
                if indeg[e.target] == 0:
                    ready.append(e.target)
    assert removed == len(graph.nodes)


def test_walk_counts_a_shared_node_once():
    import torch

    w = torch.tensor([1.5], requires_grad=True)
    g = _walk_autograd((w * w).sum().grad_fn, {"w": w})
    assert [n.label for n in g.nodes] == ["SumBackward0", "MulBackward0", "AccumulateGrad"]
    assert [(e.source, e.target) for e in g.edges] == [("n0", "n1"), ("n1", "n2"), ("n1", "n2")]


# ---- the data view (forward, traced by torch.fx) ----


def test_forward_view_has_tensors_as_nodes_and_ops_as_edges(ev):
    g = ev.forward
    labels = {n.label: n for n in g.nodes}
    assert {"x", "y", "w", "b", "wx", "y_pred", "loss"} <= set(labels)
    assert labels["loss"].shape == () and labels["wx"].shape == (4, 1) and labels["w"].shape == (1,)
    assert {labels["w"].kind, labels["b"].kind, labels["x"].kind} == {"leaf", "input"}
    ops = {(node(g, e.source).label, node(g, e.target).label): e.label for e in g.edges}
    assert ops[("w", "wx")] == ops[("x", "wx")] == "mul"
    assert ops[("wx", "y_pred")] == ops[("b", "y_pred")] == "add"
    assert node(g, g.root).label == "loss"


# ---- the SVG ----


def svg_of(g: Graph) -> str:
    return graph_svg(g, "title", "caption")


def test_svg_is_standalone_valid_xml(graph):
    text = svg_of(graph)
    root = svg_root(text)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert root.find(f"{SVG}title").text.strip()
    lowered = text.lower()
    assert "<script" not in lowered and "href" not in lowered and "url(" not in lowered
    assert " on" not in re.sub(r">[^<]*<", "><", lowered)  # no event-handler attributes
    assert_layout_sound(text)


def test_svg_labels_leaves_and_draws_them_differently(ev):
    root = svg_root(svg_of(ev.autograd))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "w (leaf)" in texts and "b (leaf)" in texts and "MeanBackward0" in texts
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")][1:]
    kinds = [n.kind for n in ev.autograd.nodes]
    assert {f for f, k in zip(fills, kinds) if k == "leaf"}.isdisjoint({f for f, k in zip(fills, kinds) if k != "leaf"})
    assert len(list(root.iter(f"{SVG}polygon"))) == len(ev.autograd.edges)  # one arrowhead per edge


def test_forward_svg_labels_the_operations(ev):
    texts = [t.text for t in svg_root(svg_of(ev.forward)).iter(f"{SVG}text")]
    assert {"mul", "add", "mean", "w (leaf)", "loss"} <= set(texts)


def test_graph_svg_escapes_text():
    g = Graph("a", (GraphNode("a", "a<b & 'c'", "function"), GraphNode("b", "leaf", "leaf", "w>0", (1,))),
              (GraphEdge("a", "b", "x < y"),))
    texts = [t.text for t in svg_root(graph_svg(g, "t & u", "c <d>")).iter(f"{SVG}text")]
    assert "a<b & 'c'" in texts and "w>0 (leaf)" in texts and "x < y" in texts


@st.composite
def dags(draw):
    n = draw(st.integers(1, 9))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=14))
    edges = sorted({(u, v) for u, v in edges if u < v})  # u < v keeps it acyclic
    edges += [(0, v) for v in range(1, n) if all(t != v for _, t in edges)]  # node 0 reaches all
    names = draw(st.lists(st.text("abcdefgh_ ", min_size=1, max_size=16), min_size=n, max_size=n))
    nodes = tuple(
        GraphNode(f"n{i}", names[i], "function" if any(u == i for u, _ in edges) else "leaf", f"t{i}", (i,))
        for i in range(n)
    )
    return Graph("n0", nodes, tuple(GraphEdge(f"n{u}", f"n{v}") for u, v in edges))


@settings(max_examples=60, deadline=None)
@given(dags(), st.booleans())
def test_graph_svg_never_overlaps_boxes(g, upward):
    if upward:  # the data view's orientation: edges point towards the root
        g = dataclasses.replace(g, edges=tuple(GraphEdge(e.target, e.source) for e in g.edges))
    text = graph_svg(g, "t", "c")
    assert_layout_sound(text)
    assert len(list(svg_root(text).iter(f"{SVG}polyline"))) == len(g.edges)


# ---- leaves, .grad and retain_grad ----


def test_leaves_and_non_leaves(ev):
    f = facts(ev)
    assert list(f) == ["x", "y", "w", "b", "wx", "y_pred", "loss"]
    for name in ("x", "y"):  # leaves too, that ask for no gradient
        assert f[name].is_leaf and not f[name].requires_grad and f[name].grad_is_none and f[name].grad_fn is None
    for name in ("w", "b"):
        assert f[name].is_leaf and f[name].requires_grad and not f[name].grad_is_none and f[name].grad_fn is None
    for name, fn in (("wx", "MulBackward0"), ("y_pred", "AddBackward0"), ("loss", "MeanBackward0")):
        assert not f[name].is_leaf and f[name].requires_grad and f[name].grad_is_none
        assert f[name].grad_fn == fn


def test_non_leaf_grad_warning_is_torchs_own(ev):
    text = ev.non_leaf_grad_warning
    assert text is not None and "not a leaf" in text and "retain_grad" in text
    assert "\n" not in text and "Triggered internally" not in text


def test_retain_grad_populates_y_pred_grad(ev):
    r = ev.retain_grad
    assert r.tensor == "y_pred" and not r.grad_is_none and r.grad_shape == (4, 1) and r.matches_formula
    expected = (W0 * X - Y) / len(X)  # d loss / d y_pred = (y_pred - y) / n
    np.testing.assert_allclose(r.grad_head, expected[:2], rtol=1e-6)


# ---- dynamic graph ----


def test_each_iteration_builds_a_new_graph(ev):
    d = ev.dynamic
    assert d.grad_fn_distinct and d.same_structure
    assert d.grad_fn_names == ("MeanBackward0", "MeanBackward0")
    assert d.losses[0] == pytest.approx(float(np.mean(0.5 * (Y - W0 * X) ** 2)), rel=1e-6)
    assert d.losses[1] < d.losses[0]


def test_double_backward_error_is_captured(ev):
    assert "backward through the graph a second time" in ev.dynamic.double_backward_error


# ---- static counterpart ----


def test_fx_records_the_course_ops(ev):
    s = ev.static
    assert "torch.mul" in s.fx_graph and "torch.add" in s.fx_graph and "placeholder" in s.fx_graph
    assert "call_function[target=torch.mul](args = (%w, %x)" in s.fx_graph


def test_trace_freezes_the_branch_eager_follows_it(ev):
    s = ev.static
    probe = np.array(s.probe_input)
    assert sum(s.trace_input) > 0 > sum(s.probe_input)
    assert s.traced_output == tuple(probe * 2)  # the branch the trace saw
    assert s.eager_output == tuple(probe * -1)  # the branch this input takes
    assert s.traced_output != s.eager_output
    assert "x.sum() > 0" in s.branch_source
    categories = dict(s.trace_warnings)
    assert "trace" in categories["TracerWarning"].lower()
    assert "deprecated" in categories["DeprecationWarning"]  # torch 2's own words, shown, not swallowed


def test_fx_refuses_data_dependent_control_flow(ev):
    assert "cannot be used as inputs to control flow" in ev.static.fx_branch_error


# ---- plain, reproducible data ----


def _leaves(value):
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name))
    elif isinstance(value, tuple):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_evidence_is_plain_data(ev):
    assert all(v is None or type(v) in (str, int, float, bool) for v in _leaves(ev))


def test_no_memory_addresses_in_text(ev):
    assert not [v for v in _leaves(ev) if isinstance(v, str) and re.search(r"0x[0-9a-fA-F]{4,}", v)]


def test_capture_is_deterministic(ev):
    again = capture_graph_evidence(X.copy(), Y.copy(), W0, LR)
    assert again == ev
    assert svg_of(again.autograd) == svg_of(ev.autograd) and svg_of(again.forward) == svg_of(ev.forward)


def test_evidence_survives_json_without_torch_objects(ev):
    import json

    from reportgen.infra.codec import decode, encode

    again = decode(GraphEvidence, json.loads(json.dumps(encode(ev))))
    assert again == ev and repr(again) == repr(ev)  # figure keys hash repr(graph)


def test_capture_works_inside_no_grad(ev):
    import torch

    with torch.no_grad():
        assert capture_graph_evidence(X, Y, W0, LR) == ev
        assert not torch.is_grad_enabled()


# ---- PyTorch 2 and .grad accumulation ----


def test_grad_adds_up_and_the_loop_needs_zero_(ev):
    a = ev.accumulation
    assert a.grad_twice == pytest.approx(tuple(2 * g for g in a.grad_once))
    assert a.losses_zeroed[:2] == a.losses_accumulated[:2]  # the first update is the same
    assert a.losses_zeroed == tuple(sorted(a.losses_zeroed, reverse=True))  # zeroed: the loss only falls
    assert max(a.losses_accumulated[2:]) > a.losses_zeroed[-1] * 2  # accumulated: it climbs back


def test_the_graph_shape_follows_the_data(ev):
    (small, small_nodes), (large, large_nodes) = ev.dynamic.loop_nodes
    assert sum(small) < sum(large) and small_nodes > large_nodes  # more doublings, a longer graph
    assert "while" in ev.dynamic.loop_source
    assert ev.dynamic.grad_fn_distinct


def test_torch_export_needs_torch_cond_and_compile_breaks_the_graph(ev):
    s = ev.static
    assert s.export_error and "data-dependent" in s.export_error
    assert s.cond_error is None and "cond" in s.cond_ops and "torch.cond" in s.cond_source
    eager_on_trace = tuple(2 * v for v in s.trace_input)
    assert s.cond_outputs == (eager_on_trace, s.eager_output)  # right for both inputs
    assert s.compile_error is None and s.compile_breaks >= 1 and s.compile_graphs >= 1
    assert s.compile_outputs == (eager_on_trace, s.eager_output)


# --------------------------------------------------------------------------- one step, tied to its graph

def test_one_step_is_the_course_runs_own_and_autograd_agrees_with_finite_differences(default_runs):
    from reportgen.teach.capture import capture_graph_evidence as capture

    run = default_runs["threshold__threshold-1"]  # the course's run: [defaults] as they are
    t = run.trajectory
    for k in (1, 5):
        step = capture(run.data.x, run.data.y, run.data.w0, run.spec.params.lr, k).step
        assert step.k == k
        assert (step.w, step.b) == pytest.approx((t.w[k], t.b[k]), rel=1e-6)  # the state iteration k used
        assert step.after == pytest.approx((t.w[k + 1], t.b[k + 1]), rel=1e-6)  # and what course_step made of it
        assert step.loss == pytest.approx(t.loss[k], rel=1e-6)
        assert max(step.relative_errors) < 1e-5  # float32 autograd against float64 central differences
        assert step.step == pytest.approx((step.after[0] - step.w, step.after[1] - step.b), rel=1e-4)
        values = {name: (value, grad) for name, value, grad in step.tensors}
        assert values["loss"][1] == (1.0,) and values["x"][1] is None
        n = len(run.data.x)
        residual = (np.array(values["y_pred"][0]) - run.data.y.ravel()[:2]) / n  # d loss / d y_pred = (ŷ − y)/n
        assert values["y_pred"][1] == pytest.approx(tuple(residual), rel=1e-4)
        assert values["w"][1] == pytest.approx((step.grad[0],)) and values["b"][1] == pytest.approx((step.grad[1],))


def test_a_print_inside_the_model_runs_eagerly(ev):
    assert ev.eager_print.startswith("inside the model: y_pred[:2] = [")
    assert "print(" in ev.eager_print_source
    first = float(ev.eager_print.split("[")[2].split(",")[0])
    assert first == pytest.approx(W0 * X[0])  # w·x + b with b = 0: the real tensors' values
