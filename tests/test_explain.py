"""Explanations computed from the default grid's runs."""

from __future__ import annotations

import pytest

from reportgen.explain import StopCase, excess_orders_counts, explain_stop, mode_rows, sweep_findings


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


def test_the_slow_mode_explains_the_slope_counts(results):
    rows = mode_rows([results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)])
    assert len({round(r.lambda_min, 12) for r in rows}) == 1  # the slope does not change H
    for row in rows:
        assert row.agrees is True
        assert row.slow_mode_estimate == pytest.approx(row.stop_iteration, abs=3)
    excess = [r.initial_excess_slow for r in rows]
    assert excess == sorted(excess, reverse=True)
    assert excess_orders_counts(rows)
    findings = sweep_findings("slope", [results[f"slope__slope-{s}"] for s in (1, 2, 3, 5)])
    assert findings.falls_as_value_grows is True and findings.varied == "slope"


def test_lr_sweep_findings_name_the_unstable_run(results):
    runs = [results[k] for k in results if k.startswith("learning-rate")]
    findings = sweep_findings("learning-rate", runs)
    assert findings.unstable == ["learning-rate__lr-0.059"]
    assert findings.lr_max == pytest.approx(runs[0].analysis.lr_max)
