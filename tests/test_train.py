"""The batched trainer against the course loop, run by run."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Params
from reportgen.teach.remedies import uses_remedy
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.course import course_loop, last_title
from reportgen.train.run import Status


def train(params_list):
    specs = [RunSpec(id=f"r{i}", sweep="s", params=p, varied={}) for i, p in enumerate(params_list)]
    data = draw_data(specs)
    return data, train_grid(specs, data)


def near_threshold(value: float, threshold: float) -> bool:
    """True where a float32 loss is within rounding of the threshold (a few ulps)."""
    return abs(value - threshold) <= 4 * np.spacing(np.float32(max(abs(threshold), 1e-30)))


def assert_matches_course(p: Params, traj) -> None:
    ref = course_loop(p)
    if traj.stop_iteration != ref.stop_iteration or traj.diverged_at != ref.diverged_at:
        # Allowed only where the loss lands within float32 rounding of a boundary.
        k = min(len(ref.losses), traj.iterations_run) - 1
        assert near_threshold(ref.losses[k], p.threshold) or traj.status == Status.DIVERGED, (p, traj.status, ref)
        return
    assert traj.iterations_run == len(ref.losses)
    np.testing.assert_allclose(traj.loss, np.float32(ref.losses), rtol=1e-5, atol=1e-6)
    if traj.status != Status.DIVERGED:
        assert math.isclose(traj.updated_w, ref.w, rel_tol=1e-5, abs_tol=1e-5)
        assert math.isclose(traj.updated_b, ref.b, rel_tol=1e-5, abs_tol=1e-5)


def test_default_grid_is_bitwise_the_course(default_runs):
    plain = [run for run in default_runs.values() if not uses_remedy(run)]  # the course's own loop: plain gd, raw x
    assert len(plain) >= 51
    for run in plain:
        spec, traj = run.spec, run.trajectory
        ref = course_loop(spec.params)
        assert traj.stop_iteration == ref.stop_iteration, spec.id
        assert traj.diverged_at == ref.diverged_at, spec.id
        # Same ops in the same order on the same float32 data: identical numbers.
        assert traj.loss.tolist() == np.float32(ref.losses).tolist(), spec.id
        assert (traj.updated_w, traj.updated_b) == (np.float32(ref.w), np.float32(ref.b)), spec.id


def test_course_homework_counts(default_runs):
    """The student's observations: loss < 10 stops at 0, counts fall as the slope grows."""
    runs = {run_id: r.trajectory for run_id, r in default_runs.items()}
    assert runs["threshold__threshold-10"].stop_iteration == 0
    assert runs["threshold__threshold-0.1"].status == Status.BUDGET_EXHAUSTED
    assert runs["threshold__threshold-0.1"].iterations_run == 1000
    counts = [runs[f"slope__slope-{s}"].stop_iteration for s in (1, 2, 3, 5)]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 4
    assert runs["learning-rate__lr-0.059"].status == Status.DIVERGED


def test_drop_out_does_not_disturb_other_runs():
    """A run that stops early leaves the other rows' numbers unchanged."""
    a = Params(threshold=10.0)  # stops at 0
    b = Params(threshold=0.5, max_iters=400)
    c = Params(seed=3, threshold=0.01, max_iters=50)  # budget exhausted early
    _, together = train([a, b, c])
    _, alone = train([b])
    assert together[0].stop_iteration == 0
    assert together[2].status == Status.BUDGET_EXHAUSTED and together[2].iterations_run == 50
    assert together[1].loss.tolist() == alone[0].loss.tolist()


def test_runs_that_finish_one_by_one_in_a_big_grid_are_each_the_run_alone():
    """Finished runs stay in the batch until they are an eighth of it (DROP_SHARE): no other row notices."""
    rules = [{}, {"optimizer": "momentum", "momentum": 0.5}, {"optimizer": "adam"}, {"batch_size": 3},
             {"standardize": True}]
    params = [Params(seed=i, threshold=0.3 + 0.05 * i, lr=(0.01, 0.03, 0.0575, 0.059)[i % 4], max_iters=150 + 7 * i,
                     n_points=(20, 9)[i % 2], **rules[i % len(rules)]) for i in range(40)]
    _, together = train(params)
    assert len({t.iterations_run for t in together}) > 20  # they finish at many iterations, a few at a time
    assert {t.status for t in together} == set(Status)
    for p, traj in zip(params, together):
        _, (alone,) = train([p])
        assert (traj.status, traj.stop_iteration, traj.diverged_at, traj.updated_w, traj.updated_b) == \
            (alone.status, alone.stop_iteration, alone.diverged_at, alone.updated_w, alone.updated_b)
        for name in ("loss", "w", "b", "full_loss"):
            assert getattr(traj, name).tobytes() == getattr(alone, name).tobytes(), (p, name)


def test_divergence_is_marked_and_nothing_nan_travels():
    _, (fast, huge) = train([Params(lr=0.07), Params(lr=1e30)])
    for traj in (fast, huge):
        assert traj.status == Status.DIVERGED
        assert traj.stop_iteration is None
        assert math.isfinite(traj.updated_w) and math.isfinite(traj.updated_b)
        assert np.isfinite(traj.w).all() and np.isfinite(traj.b).all()
        assert traj.updates == traj.iterations_run - 1
    assert fast.diverged_at == fast.iterations_run - 1
    assert fast.final_loss > 1e6 * fast.loss[0]
    assert huge.diverged_at == 1  # the first update overflows the loss
    assert not math.isfinite(huge.final_loss)


def test_a_first_loss_infinite_nan_or_at_floats_edge_diverges_as_the_course_says():
    """The divergence limit, DIVERGENCE_FACTOR times the first loss, is capped at float32's largest: a loss that
    overflows still diverges where that product is infinite, and a NaN or infinite first loss diverges at once."""
    from reportgen.train.run import RunData

    ordinary = np.linspace(1, 10, 20, dtype=np.float32)
    cases = {"inf": ordinary * np.float32(1e20), "edge": ordinary * np.float32(1e16),
             "nan": np.where(ordinary > 5, np.float32("nan"), ordinary), "ordinary": ordinary}
    specs = [RunSpec(name, "s", Params(threshold=0.0, lr=0.01, max_iters=30), {}) for name in cases]
    data = [RunData(x=x, y=2 * ordinary, w0=0.5) for x in cases.values()]
    inf, edge, nan, ordinary_run = train_grid(specs, data)
    assert np.isinf(inf.loss[0]) and np.isnan(nan.loss[0])
    assert math.isfinite(edge.loss[0]) and edge.loss[0] > np.finfo(np.float32).max / 1e6  # its limit overflows
    assert (inf.diverged_at, nan.diverged_at, edge.diverged_at) == (0, 0, 1)
    for traj in (inf, nan, edge):  # the step that diverged is withheld
        assert traj.status == Status.DIVERGED and traj.updated_w == traj.w[-1] and traj.updated_b == traj.b[-1]
    assert ordinary_run.status == Status.BUDGET_EXHAUSTED and ordinary_run.iterations_run == 30


def test_mixed_sizes_match_the_course():
    params = [Params(n_points=2, threshold=0.01), Params(n_points=7), Params(n_points=33, seed=5)]
    _, trajectories = train(params)
    for p, traj in zip(params, trajectories):
        assert_matches_course(p, traj)


def test_empty_grid():
    assert train_grid([], []) == []


params_strategy = st.builds(
    Params,
    slope=st.floats(-6, 6),
    intercept=st.floats(-10, 10),
    threshold=st.floats(0, 20),
    lr=st.floats(1e-4, 0.08),
    max_iters=st.integers(1, 250),
    seed=st.integers(0, 2**32),
    n_points=st.sampled_from([2, 5, 20]),
    noise=st.floats(0, 3),
    x_max=st.floats(0.5, 12),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(params_strategy, min_size=1, max_size=4))
def test_random_grids_match_the_course(params_list):
    _, trajectories = train(params_list)
    for p, traj in zip(params_list, trajectories):
        assert traj.status in (Status.STOPPED, Status.BUDGET_EXHAUSTED, Status.DIVERGED)
        assert_matches_course(p, traj)


def test_cuda_falls_back_to_the_cpu_with_a_warning(caplog, default_specs):
    import torch

    from reportgen.train.batched import resolve_device

    specs = default_specs[:4]
    data = draw_data(specs)
    cpu = train_grid(specs, data)
    if torch.cuda.is_available():
        gpu = train_grid(specs, data, device="cuda")
        for a, b in zip(cpu, gpu):
            assert a.stop_iteration == b.stop_iteration and a.status == b.status
            np.testing.assert_allclose(a.loss, b.loss, rtol=1e-4)
        return
    with caplog.at_level("WARNING", logger="reportgen"):
        assert resolve_device("cuda") == "cpu"
    assert "no CUDA device" in caplog.text and "training on the CPU" in caplog.text


def test_w_b_printed_are_what_the_course_windows_title_printed_last(default_runs):
    """The course's script, as it stands: it draws (title: w and b after the update) every 20th iteration and at
    the stop. A run that used its budget is copied from iteration 980's title, one that stopped from the stop's."""
    import torch

    for run_id in ("threshold__threshold-0.1", "threshold__threshold-1", "slope__slope-5"):
        p = default_runs[run_id].spec.params
        torch.manual_seed(p.seed)
        x = torch.rand(p.n_points, 1) * p.x_max
        y = p.slope * x + (p.intercept + p.noise * torch.randn(p.n_points, 1))
        w, b = torch.randn(1, requires_grad=True), torch.zeros(1, requires_grad=True)
        title = None
        for iteration in range(p.max_iters):
            loss = (0.5 * (y - torch.add(torch.mul(w, x), b)) ** 2).mean()
            loss.backward()
            b.data.sub_(p.lr * b.grad)
            w.data.sub_(p.lr * w.grad)
            w.grad.zero_()
            b.grad.zero_()
            if iteration % 20 == 0:
                title = (iteration, w.item(), b.item())
            if loss.data.numpy() < p.threshold:
                title = (iteration, w.item(), b.item())
                break
        got = last_title(default_runs[run_id].trajectory)
        assert (got.iteration, got.w, got.b) == title, run_id
    assert last_title(default_runs["learning-rate__lr-0.059"].trajectory) is None  # diverged: reportgen's rule

