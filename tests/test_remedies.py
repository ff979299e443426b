"""The remedies and regime maps, decided from real runs: each claim the page makes, checked against the runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen.config.grid import expand_grid
from reportgen.config.load import parse_config
from reportgen.teach import remedies as rem
from reportgen.teach.regimes import Regime, oscillation_bound, regime_cells, regime_map
from reportgen.train.analysis import analyse
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.run import RunResult, Status


def train(text: str) -> list[RunResult]:
    specs = expand_grid(parse_config(text))
    data = draw_data(specs)
    return [RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(specs, data, train_grid(specs, data))]


REMEDIES = """
[defaults]
threshold = 0.5
[[sweep]]
name = "r"
vary = { optimizer = ["gd", "momentum", "adam"], standardize = [false, true], momentum = [0.85] }
[[sweep]]
name = "mb"
vary = { batch_size = [1, 4, 15], lr = [0.1, 0.3], standardize = [true], threshold = [0.0], max_iters = [400] }
"""


@pytest.fixture(scope="module")
def runs() -> list[RunResult]:
    return train(REMEDIES)


def test_single_valued_keys_set_the_sweep_but_name_no_run(runs):
    assert runs[0].id == "r__optimizer-gd__standardize-false"
    assert all(r.spec.params.momentum == 0.85 for r in runs if r.spec.sweep == "r")


def test_standardising_makes_h_the_identity_and_the_run_faster(runs):
    (twin,) = [t for t in rem.standardised_twins(runs) if "momentum" not in t.label and "adam" not in t.label]
    assert twin.kappa[0] == pytest.approx(308.09, rel=1e-3) and twin.kappa[1] == pytest.approx(1.0)
    assert twin.lr_max[1] == pytest.approx(2.0)
    raw, scaled = twin.stop
    assert scaled < raw / 3  # 51 against 316 on the course's data
    course = next(r for r in runs if r.id == "r__optimizer-gd__standardize-false")
    assert raw == course.trajectory.stop_iteration


def test_momentum_rate_matches_its_recurrence_where_it_does_not_ring(runs):
    m = next(m for m in rem.momentum_runs(runs) if m.run_id == "r__optimizer-momentum__standardize-false")
    root = math.sqrt(m.kappa)
    assert m.best_beta == pytest.approx(((root - 1) / (root + 1)) ** 2)
    assert m.ring_beta == pytest.approx(0.8557, abs=1e-4)  # (1 - sqrt(lr λmin))^2 for seed 10 at lr 0.05
    assert m.beta < m.ring_beta and not m.rings  # the built-in config's 0.85 sits just below it
    assert m.agrees and m.predicted_rate < m.gd_rate  # 0.943 against plain gd's 0.9944
    short = next(m for m in rem.momentum_runs(runs) if m.run_id == "r__optimizer-momentum__standardize-true")
    assert short.measured_rate is None  # 8 iterations: too few to fit a rate


def test_the_built_in_remedies_beta_sits_below_the_ringing_edge(default_specs):
    spec = next(s for s in default_specs if s.sweep == "remedies" and s.params.optimizer == "momentum"
                and not s.params.standardize)
    (data,) = draw_data([spec])
    lam_min = analyse(data, spec.params).hessian_eigenvalues[0]
    ring = (1 - math.sqrt(spec.params.lr * lam_min)) ** 2
    assert 0.98 * ring < spec.params.momentum < ring


def test_adam_gives_each_parameter_its_own_step_size(runs):
    adam = next(a for a in rem.adam_runs(runs) if a.run_id == "r__optimizer-adam__standardize-false")
    first = adam.steps[0]
    assert first.step == pytest.approx((adam.lr, adam.lr), rel=1e-3)  # Adam's first step is lr for each
    w_lr, b_lr = first.own_lr
    assert b_lr > 3 * w_lr  # the shallow b gets a larger effective rate than the steep w


def test_the_hover_estimate_holds_for_equal_batches_and_is_flagged_where_it_fails(runs):
    hovers = {(h.batch_size, h.lr): h for h in rem.hovers(runs)}
    assert len(hovers) == 6
    for key in ((1, 0.1), (4, 0.1), (4, 0.3)):
        assert hovers[key].agrees, (key, hovers[key].ratio)
    for key in ((15, 0.1), (15, 0.3)):
        assert not hovers[key].agrees and hovers[key].uneven and hovers[key].ratio > 5
    assert not hovers[(1, 0.3)].agrees and not hovers[(1, 0.3)].uneven  # the large step
    assert hovers[(1, 0.1)].lucky > 100  # the batch's loss passes below the floor again and again


def test_each_gd_run_shrinks_its_error_along_each_eigen_direction_by_its_factor():
    results = train("""
[defaults]
threshold = 0.0
max_iters = 300
[[sweep]]
name = "g"
vary = { lr = [0.005, 0.02, 0.03, 0.045, 0.057], standardize = [false, true], x_max = [5.0, 10.0] }
""")
    checked = 0
    for r in results:
        if r.analysis.lr_max <= r.spec.params.lr:
            continue
        for measured, factor in zip(rem.measured_factors(r), r.analysis.factors):
            if measured is not None:
                assert measured == pytest.approx(factor, rel=0.01), r.id
                checked += 1
    assert checked >= 20


def test_the_built_in_regime_map_agrees_with_theory(default_specs):
    specs = [s for s in default_specs if s.sweep == "momentum-lr"]
    data = draw_data(specs)
    results = [RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(specs, data, train_grid(specs, data))]
    found = regime_map(results, ("momentum", "lr"))
    assert found is not None and found.agree == len(results) == 27
    assert {c.measured for c in found.cells} == set(Regime)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lrs=st.lists(st.floats(0.001, 0.15), min_size=6, max_size=6),
       betas=st.lists(st.floats(0.0, 0.95), min_size=3, max_size=3),
       x_max=st.sampled_from([4.0, 10.0]), rule=st.sampled_from(["momentum", "nesterov"]))
def test_off_the_edges_every_measured_regime_is_the_predicted_one(lrs, betas, x_max, rule):
    lrs = sorted({round(v, 6) for v in lrs})
    betas = sorted({round(v, 4) for v in betas})
    results = train(f"""
[defaults]
threshold = 0.5
max_iters = 400
x_max = {x_max}
optimizer = "{rule}"
[[sweep]]
name = "h"
vary = {{ momentum = {betas}, lr = {lrs} }}
""")
    cells = regime_cells(results)
    assert cells is not None
    off = [c for c in cells if not c.agrees and not c.near_edge]
    assert not off, off


def test_no_regime_map_where_theory_does_not_reach(runs):
    assert regime_cells([r for r in runs if r.spec.params.optimizer == "adam"]) is None
    assert regime_cells([r for r in runs if r.spec.params.batch_size]) is None
    assert all(r.trajectory.status != Status.DIVERGED for r in runs)
    assert np.isfinite([r.analysis.lr_max for r in runs if r.spec.params.optimizer != "adam"]).all()


def test_a_map_over_lr_and_x_max_moves_both_edges_with_kappa():
    results = train("""
[defaults]
threshold = 0.5
[[sweep]]
name = "k"
vary = { x_max = [4.0, 10.0, 20.0], lr = [0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3] }
""")
    found = regime_map(results, ("x_max", "lr"))
    assert found is not None and found.differ_off_edge == 0
    edges = {r.spec.params.x_max: (r.analysis.lr_max, oscillation_bound(r)) for r in results}
    assert edges[4.0][0] > edges[10.0][0] > edges[20.0][0]  # a wider x: a larger λmax, a lower bound
    assert all(osc == pytest.approx(bound / 2) for bound, osc in edges.values())  # gd: 1/λmax and 2/λmax
    regimes = {(r.spec.params.x_max, r.spec.params.lr): c.measured for r, c in zip(results, found.cells)}
    assert regimes[(4.0, 0.1)] == Regime.MONOTONE and regimes[(4.0, 0.2)] == Regime.OSCILLATING  # 1/λmax ≈ 0.16
    assert regimes[(20.0, 0.1)] == Regime.DIVERGING


def test_a_heatmap_too_big_for_letters_keeps_its_edges_only():
    from reportgen.teach.regimes import MAP_LIMIT

    assert regime_map([None] * (MAP_LIMIT + 1), ("momentum", "lr")) is None  # 10,000 letters: 9 s to draw, unreadable


def test_a_minibatch_overlay_draws_the_loss_over_all_points_and_its_caption_names_only_what_is_drawn(runs):
    from reportgen.figures.marks import curve, heatmap_marks, knee, overlay_marks

    batches = [r for r in runs if r.spec.sweep == "mb"]
    for r in batches:
        assert np.array_equal(curve(r), r.trajectory.full_loss) and knee(r) is None
        assert curve(r).min() >= r.analysis.loss_floor * (1 - 1e-5)  # no line passes the floor; a batch's loss does
    assert min(r.trajectory.loss.min() for r in batches) < batches[0].analysis.loss_floor
    assert overlay_marks(batches) == {"minibatch", "below floor"}  # no threshold, stop or knee: the caption names none
    assert heatmap_marks(batches, ("batch_size", "lr")) == {"budget"}  # the stability bound lies past lr 0.3
    remedies = [r for r in runs if r.spec.sweep == "r"]
    assert {"threshold", "stopped", "knee"} <= overlay_marks(remedies) and "minibatch" not in overlay_marks(remedies)


def test_an_overlay_legend_fits_across_its_figure(runs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from reportgen.core.formatting import run_label
    from reportgen.figures.plots import NARROW, WIDE, legend_columns

    labels = [run_label(r.spec.varied) for r in runs if r.spec.sweep == "r"]
    for layout in (WIDE, NARROW):
        fig = Figure(figsize=layout.size, dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.subplots()
        for label in labels:
            ax.plot([0, 1], [0, 1], label=label)
        legend = fig.legend(fontsize=layout.small_pt, loc="lower center", ncol=legend_columns(labels, layout))
        box = legend.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (layout, box)  # four columns ran off both edges
    assert legend_columns(["lr = 0.1", "lr = 0.3"], WIDE) == 2
