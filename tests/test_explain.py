"""Explanations computed from the built-in grid's runs, against what the runs did."""

from __future__ import annotations

import math

import pytest

from reportgen.teach.stops import Mode, StopCase, explain_stop
from reportgen.teach.sweeps import lr_products, mode_rows, slope_trends, sweep_findings
from reportgen.teach.theory import closed_form, student_answer, student_run
from reportgen.train.run import Status


@pytest.fixture(scope="module")
def results(default_runs):
    return default_runs


def test_each_homework_case_is_classified(results):
    assert explain_stop(results["threshold__threshold-10"]).case == StopCase.AT_START
    assert explain_stop(results["threshold__threshold-1"]).case == StopCase.REACHED
    below = explain_stop(results["threshold__threshold-0.1"])
    assert below.case == StopCase.BELOW_FLOOR
    assert below.loss_floor > below.threshold and below.lowest_loss >= below.loss_floor * (1 - 1e-5)
    assert explain_stop(results["learning-rate__lr-0.059"]).case == StopCase.UNSTABLE
    assert explain_stop(results["learning-rate__lr-0.057"]).case == StopCase.REACHED


def test_the_slow_mode_sets_the_slope_counts_at_lr_0_05(results):
    rows = mode_rows([results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)])
    assert len({round(r.modes.lambda_min, 12) for r in rows}) == 1  # the slope does not change H
    for row in rows:
        assert row.agrees is True and row.modes.decides == Mode.SLOW
        assert row.modes.alone_slow == pytest.approx(row.stop_iteration, abs=2)
    (trend,) = sweep_findings("slope", [results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)]).trends
    assert trend.direction == "falls" and trend.less_slow_excess_fewer_iterations


def test_near_the_bound_the_fast_mode_sets_the_count_and_the_slope_rule_fails(results):
    grid = [r for r in results.values() if r.spec.sweep == "slope-lr"]
    trends = {t.fixed: t for t in slope_trends(grid)}
    near = trends["lr = 0.057"]
    assert near.direction == "rises" and near.counts == (80, 80, 100, 122)  # as the issue measured
    assert near.decides[-1] == Mode.FAST and not near.slow_throughout
    assert near.factor_fast == pytest.approx(1 - 0.057 * results["threshold__threshold-1"].analysis.hessian_eigenvalues[1])
    assert all(t.direction == "falls" for fixed, t in trends.items() if fixed != "lr = 0.057")


def test_the_worked_closed_form_matches_the_measured_counts(results, default_config):
    worked = closed_form(list(results.values()), default_config.defaults.to_dict())
    assert worked.run_id == "threshold__threshold-1"
    assert worked.modes.tau == pytest.approx(1 / (2 * 0.05 * worked.modes.lambda_min), rel=0.01)
    estimates = {threshold: (estimate, measured) for threshold, estimate, measured in worked.estimates}
    assert estimates[1.0][0] == pytest.approx(77, abs=1) and estimates[1.0][1] == 78
    assert estimates[0.5][0] == pytest.approx(316, abs=1) and estimates[0.5][1] == 316
    assert estimates[0.1] == (None, None)  # at or below the floor: never
    assert worked.modes.zigzag and worked.modes.knee == 3


def test_iterations_times_lr_is_about_constant_where_the_slow_mode_decides(results, default_config):
    products = lr_products(list(results.values()), default_config.defaults.to_dict())
    assert products.fixed == "slope = 2" and 0.057 not in products.lrs  # the fast mode decides there
    assert all(p == pytest.approx(products.predicted, rel=0.02) for p in products.products)


def test_above_the_plain_bound_a_heavy_ball_diverges_only_past_its_own(results):
    """"The runs above 2/λmax diverged" holds for plain steps; a heavy ball above it is named with its own bound."""
    lr_sweep = sweep_findings("learning-rate", [r for r in results.values() if r.spec.sweep == "learning-rate"])
    assert lr_sweep.instability.bound_holds and [i for _, i in lr_sweep.instability.above_diverged] == \
        ["learning-rate__lr-0.059"]
    grid = [r for r in results.values() if r.spec.sweep == "momentum-lr"]
    found = sweep_findings("momentum-lr", grid).instability
    assert not found.bound_holds and not found.above_both and not found.below_diverged
    by_id = {r.id: r for r in grid}
    survivors = {(by_id[i].spec.params.momentum, by_id[i].spec.params.lr) for _, i, _ in found.above_converged}
    assert survivors == {(0.5, 0.06), (0.5, 0.08), (0.9, 0.06), (0.9, 0.08), (0.9, 0.1)}
    for _, run_id, bound in found.above_converged:
        p = by_id[run_id].spec.params
        assert bound == pytest.approx(2 * (1 + p.momentum) / by_id[run_id].analysis.hessian_eigenvalues[1])
        assert p.lr < bound and by_id[run_id].trajectory.status != Status.DIVERGED
    assert all(by_id[i].trajectory.status == Status.DIVERGED and by_id[i].spec.params.lr > 2 / 34.62
               for _, i in found.above_diverged)


def test_divergence_is_told_with_the_signed_factor(results):
    s = explain_stop(results["learning-rate__lr-0.059"])
    assert s.modes.factor_fast == pytest.approx(-1.043, abs=5e-4)
    assert s.growth == pytest.approx(1.087, abs=5e-4)
    assert 1e36 < s.course_loss < 1e38  # where the course's own loop would be at iteration 999


def test_the_students_question_is_answered_from_the_run(results, default_config):
    run = student_run(list(results.values()), default_config.defaults.to_dict())
    assert run.id == "threshold__threshold-0.1"
    q = student_answer(run)
    assert q.last_drawn == 980 and q.settle_2px == 580 and q.settle_pixel < q.settle_2px
    assert q.expected_floor == pytest.approx(0.45)
    assert q.reachable_noise == pytest.approx(math.sqrt(0.1 / q.loss_floor))
    assert (q.w_star, q.b_star) == pytest.approx((2.071, 4.803), abs=1e-3)
    assert q.b_at_settle < q.b_final


def test_the_slope_changes_the_count_through_the_slow_error_not_the_distance(results):
    (trend,) = sweep_findings("slope", [results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)]).trends
    assert trend.same_start  # seed 10 draws w = 2.284 whatever the slope
    assert [round(e.distance, 3) for e in trend.errors] == [4.954, 4.808, 4.867, 5.553]  # as the review measured
    assert not trend.follows_distance  # so the page must not say a further minimum takes longer
    assert trend.follows_slow_error
    slow = trend.errors[0].slow_direction
    assert slow == pytest.approx((-0.16, 0.99), abs=0.01)
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "templates"
    assert not any("minimum further from the start" in p.read_text() for p in templates.glob("*.html"))


def test_near_the_bound_each_run_says_which_mode_sets_its_count(results):
    grid = [r for r in results.values() if r.spec.sweep == "slope-lr"]
    near = {t.fixed: t for t in slope_trends(grid)}["lr = 0.057"]
    assert near.labels_where(Mode.FAST) == ("slope = 3", "slope = 5")
    assert near.labels_where(Mode.BOTH) == ("slope = 1", "slope = 2")  # not "the fast mode" for every slope


def test_the_start_error_splits_into_its_slow_and_fast_parts_at_a_right_angle(results):
    import math

    (trend,) = sweep_findings("slope", [results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)]).trends
    for e in trend.errors:
        sw, sb = e.slow_direction
        foot = (e.minimum[0] + e.along_slow * sw, e.minimum[1] + e.along_slow * sb)  # as the figure draws it
        slow_leg = (foot[0] - e.minimum[0], foot[1] - e.minimum[1])
        fast_leg = (e.start[0] - foot[0], e.start[1] - foot[1])
        assert slow_leg[0] * fast_leg[0] + slow_leg[1] * fast_leg[1] == pytest.approx(0, abs=1e-9)
        assert math.hypot(*fast_leg) == pytest.approx(abs(e.along_fast), rel=1e-9)
        assert math.hypot(*slow_leg) ** 2 + math.hypot(*fast_leg) ** 2 == pytest.approx(e.distance ** 2, rel=1e-9)
