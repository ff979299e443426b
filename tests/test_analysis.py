"""The closed-form analysis against the runs it describes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Params
from reportgen.train import analysis as analysis_module
from reportgen.train.analysis import (
    MAX_PREDICTED,
    analyse,
    analyse_all,
    closed_form,
    first_below,
)
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.run import RunData, Status


@pytest.fixture(scope="module")
def runs(default_runs):
    return [(r.spec, r.data, r.trajectory, r.analysis) for r in default_runs.values()]


def test_predicted_equals_measured_for_every_stopped_default_run(runs):
    stopped = [(s, t, a) for s, d, t, a in runs if t.status == Status.STOPPED and closed_form(s.params)]
    assert len(stopped) >= 8
    for spec, traj, analysis in stopped:
        assert analysis.predicted_stop_iteration == traj.stop_iteration, spec.id


def test_closed_form_tracks_the_measured_loss_curve(runs):
    for spec, _, traj, analysis in runs:
        if traj.status == Status.DIVERGED or not closed_form(spec.params):
            continue
        t = np.arange(traj.iterations_run)
        np.testing.assert_allclose(analysis.loss_at(t), traj.loss, rtol=2e-4, err_msg=spec.id)


def test_floor_is_the_least_squares_minimum(runs):
    _, data, _, analysis = runs[0]
    x, y = data.x.astype(float), data.y.astype(float)
    slope, intercept = np.polyfit(x, y, 1)
    assert analysis.w_star == pytest.approx(slope, rel=1e-9)
    assert analysis.b_star == pytest.approx(intercept, rel=1e-9)
    floor = np.mean(0.5 * (y - slope * x - intercept) ** 2)
    assert analysis.loss_floor == pytest.approx(floor, rel=1e-12)
    # Any other line does worse.
    for dw, db in [(1e-3, 0), (0, 1e-3), (-1e-3, 1e-3)]:
        assert np.mean(0.5 * (y - (slope + dw) * x - (intercept + db)) ** 2) > analysis.loss_floor


def test_threshold_below_floor_has_no_prediction_and_exhausts_the_budget(runs):
    run = {s.id: (t, a) for s, _, t, a in runs}
    traj, analysis = run["threshold__threshold-0.1"]
    assert analysis.loss_floor > 0.1
    assert analysis.predicted_stop_iteration is None
    assert traj.status == Status.BUDGET_EXHAUSTED
    assert traj.final_loss == pytest.approx(analysis.loss_floor, rel=1e-4)


def test_default_lr_sweep_brackets_the_computed_bound(default_config, runs):
    """The config's lrs must be computed from the data, not guessed: check they still bracket it."""
    (sweep,) = [s for s in default_config.sweeps if s.name == "learning-rate"]
    lr_max = runs[0][3].lr_max
    lrs = sorted(sweep.vary["lr"])
    assert lrs[0] < 0.5 * lr_max  # clearly stable
    assert 0.95 * lr_max < lrs[1] < lr_max < lrs[2] < 1.05 * lr_max
    outcome = {s.params.lr: t.status for s, _, t, _ in runs if s.sweep == "learning-rate"}
    assert outcome[lrs[1]] == Status.STOPPED and outcome[lrs[2]] == Status.DIVERGED


@settings(max_examples=12, deadline=None)  # each trains two runs of 3,000 iterations
@given(seed=st.integers(0, 2**31), factor=st.floats(0.5, 0.98) | st.floats(1.02, 1.5), n=st.integers(3, 30))
def test_stability_bound_separates_convergence_from_divergence(seed, factor, n):
    base = Params(seed=seed, n_points=n, threshold=0.0, max_iters=3000)
    probe = RunSpec("p", "s", base, {})
    lr_max = analyse(draw_data([probe])[0], base).lr_max
    p = base.replace(lr=factor * lr_max)
    spec = RunSpec("r", "s", p, {})
    data = draw_data([spec])
    (traj,) = train_grid([spec], data)
    if factor > 1:
        assert traj.status == Status.DIVERGED
    else:
        assert traj.status != Status.DIVERGED
        assert traj.loss[-1] <= traj.loss[0]


def test_hessian_of_known_data():
    data = RunData(x=np.array([0.0, 2.0], np.float32), y=np.array([1.0, 5.0], np.float32), w0=0.0)
    a = analyse(data, Params(lr=0.1, threshold=0.5))
    assert a.hessian == ((2.0, 1.0), (1.0, 1.0))
    lam = ((3 - 5**0.5) / 2, (3 + 5**0.5) / 2)
    assert a.hessian_eigenvalues == pytest.approx(lam)
    assert a.condition_number == pytest.approx(lam[1] / lam[0])
    assert a.lr_max == pytest.approx(2 / lam[1])
    assert (a.w_star, a.b_star, a.loss_floor) == pytest.approx((2.0, 1.0, 0.0), abs=1e-12)
    assert a.loss_at(0) == pytest.approx(0.5 * (1 + 25) / 2)  # the closed form starts at the initial loss


@pytest.mark.parametrize("chunk", [analysis_module.CHUNK_POINTS, 30])
def test_a_grid_analysed_together_is_each_run_analysed_alone(monkeypatch, chunk):
    """Stacking runs (of two sizes, four rules, standardised or not), in one chunk or in chunks of a run or six,
    changes no bit of any run's analysis."""
    monkeypatch.setattr(analysis_module, "CHUNK_POINTS", chunk)
    base = Params(max_iters=50)
    params = [base.replace(seed=seed, n_points=n, slope=slope, lr=lr, optimizer=rule, standardize=std)
              for seed, n in ((1, 5), (2, 20)) for slope in (0.5, 3.0) for lr in (0.001, 0.02, 0.2)
              for rule, std in (("gd", False), ("gd", True), ("momentum", False), ("adam", False))]
    specs = [RunSpec(f"r{i}", "s", p, {}) for i, p in enumerate(params)]
    data = draw_data(specs)
    together = analyse_all(data, params)
    alone = [analyse(d, p) for d, p in zip(data, params)]
    assert repr(together) == repr(alone)  # repr: Adam's factors are nan, which == would call different
    predicted = [a for a in together if a.predicted_stop_iteration is not None]
    assert len(predicted) >= 10
    for a, p in zip(together, params):  # the prediction is the first t where Analysis.loss_at is below, exactly
        if (t := a.predicted_stop_iteration) is not None:
            assert a.loss_at(t) < p.threshold and (t == 0 or not a.loss_at(t - 1) < p.threshold)


@settings(max_examples=50, deadline=None)
@given(starts=st.lists(st.integers(0, 10**6) | st.just(MAX_PREDICTED + 1), min_size=1, max_size=20))
def test_first_below_finds_each_curves_first_t_below(starts):
    """Curves that drop below at their own t (a step at ``start``) are found where they drop, or never."""
    edge = np.array(starts, np.int64)
    found = first_below(lambda t: t >= edge, len(edge))
    assert found.tolist() == [s if s <= MAX_PREDICTED else -1 for s in starts]
