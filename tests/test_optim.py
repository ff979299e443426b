"""The remedies' training: each batched update rule against torch.optim, standardised inputs and minibatches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.config.grid import expand_grid
from reportgen.config.load import parse_config
from reportgen.infra.errors import ConfigError
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.minibatch import epoch_ranks
from reportgen.train.run import Status

GRID = """
[defaults]
threshold = 0.0
max_iters = 100
[[sweep]]
name = "o"
vary = { optimizer = ["gd", "momentum", "nesterov", "adam"], standardize = [false, true], lr = [0.01, 0.03] }
"""


def reference(spec, data) -> tuple[np.ndarray, np.ndarray]:
    """Train one run with torch.optim, one parameter tensor each for w and b; return w and b per iteration."""
    p = spec.params
    x, y = torch.tensor(data.x)[:, None], torch.tensor(data.y)[:, None]
    mean, std = torch.tensor(0.0), torch.tensor(1.0)
    if p.standardize:
        mean = x.mean()
        std = ((x - mean) ** 2).mean().sqrt()
    xs = (x - mean) / std
    w = torch.tensor([data.w0 * float(std)], requires_grad=True)
    b = torch.tensor([data.w0 * float(mean)], requires_grad=True)
    make = {"gd": lambda: torch.optim.SGD([w, b], lr=p.lr),
            "momentum": lambda: torch.optim.SGD([w, b], lr=p.lr, momentum=p.momentum),
            "nesterov": lambda: torch.optim.SGD([w, b], lr=p.lr, momentum=p.momentum, nesterov=True),
            "adam": lambda: torch.optim.Adam([w, b], lr=p.lr, betas=(p.beta1, p.beta2), eps=p.eps)}
    optimizer = make[p.optimizer]()
    ws, bs = [], []
    for _ in range(p.max_iters):
        with torch.no_grad():
            ws.append(float(w / std))
            bs.append(float(b - w * mean / std))
        loss = (0.5 * (y - (w * xs + b)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return np.array(ws), np.array(bs)


def test_every_update_rule_matches_torch_optim_over_100_steps():
    specs = expand_grid(parse_config(GRID))
    data = draw_data(specs)
    trajectories = train_grid(specs, data)  # all 16 runs, four optimisers, in one tensor program
    assert {s.params.optimizer for s in specs} == {"gd", "momentum", "nesterov", "adam"}
    for spec, d, t in zip(specs, data, trajectories):
        assert t.status == Status.BUDGET_EXHAUSTED and t.iterations_run == 100, spec.id
        ws, bs = reference(spec, d)
        for name, ours, theirs in (("w", t.w, ws), ("b", t.b, bs)):
            error = np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs)))
            assert error <= 1e-6, f"{spec.id}: {name} differs from torch.optim by {error:.2e}"


def test_adam_runs_with_their_own_betas_match_torch_optim_too():
    text = GRID.replace('optimizer = ["gd", "momentum", "nesterov", "adam"], standardize = [false, true], ',
                        'optimizer = ["adam"], beta1 = [0.8, 0.95], beta2 = [0.99, 0.999], ')
    specs = expand_grid(parse_config(text))
    data = draw_data(specs)
    for spec, d, t in zip(specs, data, train_grid(specs, data)):  # no two runs share both betas
        ws, bs = reference(spec, d)
        assert np.max(np.abs(t.w - ws) / np.maximum(1.0, np.abs(ws))) <= 1e-6, spec.id
        assert np.max(np.abs(t.b - bs) / np.maximum(1.0, np.abs(bs))) <= 1e-6, spec.id


def test_a_standardised_run_starts_where_the_course_starts_and_reaches_the_same_fit():
    config = parse_config(GRID.replace('optimizer = ["gd", "momentum", "nesterov", "adam"], ', "")
                          .replace("max_iters = 100", "max_iters = 400").replace("lr = [0.01, 0.03]", "lr = [0.05]"))
    specs = expand_grid(config)
    raw, scaled = train_grid(specs, draw_data(specs))
    assert (scaled.w[0], scaled.b[0]) == pytest.approx((raw.w[0], 0.0), abs=1e-5)
    assert scaled.loss[0] == pytest.approx(raw.loss[0], rel=1e-5)  # the same point on the same surface
    assert scaled.loss[-1] < raw.loss[-1]  # kappa 1 against kappa ~300: the standardised run is further down
    assert np.all(np.diff(scaled.loss.astype(np.float64)) <= 1e-6)


def test_minibatches_cover_every_point_once_per_epoch_and_depend_on_the_seed_only():
    ranks = epoch_ranks(np.array([10, 10, 11], np.uint64), np.array([0, 1, 0]), np.array([20, 20, 7]), 20)
    assert sorted(ranks[0]) == list(range(20)) and sorted(ranks[2][:7]) == list(range(7))
    assert (ranks[2][7:] >= 7).all()  # padding ranks last
    assert list(ranks[0]) != list(ranks[1])  # a fresh order each epoch
    alone = epoch_ranks(np.array([11], np.uint64), np.array([0]), np.array([7]), 20)
    assert list(alone[0]) == list(ranks[2])  # whatever trains beside it

    text = GRID.replace('optimizer = ["gd", "momentum", "nesterov", "adam"], standardize = [false, true], ', "")
    text = text.replace("lr = [0.01, 0.03]", "batch_size = [0, 5, 7], lr = [0.01]")
    specs = expand_grid(parse_config(text))
    full, five, seven = train_grid(specs, draw_data(specs))
    assert len(full.full_loss) == 0 and np.array_equal(full.loss_of_all_points, full.loss)
    assert len(five.full_loss) == five.iterations_run == 100
    assert not np.allclose(five.loss, five.full_loss)  # the stop test sees the batch's loss
    # Over an epoch the batches' mean loss gradient is the full one: four steps of batch 5 land near four full steps.
    assert five.full_loss[4] == pytest.approx(full.loss[4], rel=0.1)
    again = train_grid(specs[1:2], draw_data(specs[1:2]))[0]
    assert np.array_equal(again.w, five.w)  # trained alone: the same batches, the same path


@pytest.mark.parametrize("line, message", [
    ('optimizer = "adamw"', "defaults.optimizer: unknown value 'adamw'; did you mean 'adam'? choose from gd, momentum, "
                            "nesterov, adam"),
    ("momentum = 1.0", "defaults.momentum: must be in [0, 1), got 1.0"),
    ("beta2 = -0.1", "defaults.beta2: must be in [0, 1), got -0.1"),
    ("eps = 0.0", "defaults.eps: must be > 0, got 0.0"),
    ("batch_size = -1", "defaults.batch_size: must be between 0 and 100000, got -1"),
    ("batch_size = 21", "sweep[0]: batch_size 21 is above n_points 20: a minibatch takes at most every point (0: all "
                        "of them)"),
    ('standardize = "yes"', "defaults.standardize: must be true or false, got str 'yes'"),
])
def test_bad_remedy_options_are_refused_in_one_line(line, message):
    with pytest.raises(ConfigError) as info:
        parse_config(f"[defaults]\n{line}\n[[sweep]]\nname = \"s\"\nvary = {{ lr = [0.01] }}\n", "c.toml")
    assert info.value.problems == [f"c.toml: {message}"]
