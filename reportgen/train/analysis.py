"""Theory for each run, in float64, from that run's own data.

The loss ``L(w, b) = mean(0.5 * (y - w*x - b)**2)`` is a quadratic in
``theta = (w, b)``::

    L(theta) = floor + 0.5 * e^T H e,    e = theta - theta*,
    H = [[mean(x^2), mean(x)], [mean(x), 1]]

and a gradient-descent step is ``e_{t+1} = (I - lr*H) e_t``. In H's eigenbasis
each component shrinks by ``|1 - lr*lambda_i|`` per step, so

    L_t = floor + sum_i 0.5 * lambda_i * a_i^2 * (1 - lr*lambda_i)^(2t),

which converges if and only if ``lr < 2 / lambda_max``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np

from reportgen.config.schema import Params
from reportgen.train.run import Analysis, RunData

#: Horizon of the closed-form search; beyond it a prediction is "never" in practice.
MAX_PREDICTED = 10**15
#: Data points analysed at once, over all the runs of a chunk (a 10,000-run grid of 20 points is one chunk).
CHUNK_POINTS = 1_000_000


def analyse(data: RunData, params: Params) -> Analysis:
    """Compute the floor, Hessian, stability bound and predicted stop of one run: :func:`analyse_all` of one."""
    return analyse_all([data], [params])[0]


def analyse_all(data: Sequence[RunData], params: Sequence[Params]) -> list[Analysis]:
    """Compute the floor, Hessian, stability bound and predicted stop of every run, in arrays over the runs.

    A standardised run's Hessian, eigenvectors and errors are those of the coordinates it trains in
    (``w' = w * std``, ``b' = b + w * mean``); its minimum and floor are the same line's, in the original units.
    Each value is bit for bit what the same formula gives for one run alone: the means reduce each run's row
    as they reduce one run's array, and LAPACK solves each run's 2 x 2 system on its own.
    """
    out: list[Analysis] = [None] * len(data)  # type: ignore[list-item]
    sizes: dict[int, list[int]] = {}
    for i, d in enumerate(data):  # runs of one size stack into one (runs, points) array
        sizes.setdefault(len(d.x), []).append(i)
    for size, rows in sizes.items():
        step = max(1, CHUNK_POINTS // size)  # its float64 copies of x and y stay a few MB, whatever the grid
        for chunk in (rows[start:start + step] for start in range(0, len(rows), step)):
            for i, analysis in zip(chunk, _analyse_stacked([data[i] for i in chunk], [params[i] for i in chunk])):
                out[i] = analysis
    predictable = [p.threshold > a.loss_floor and p.lr < a.lr_max and closed_form(p) for a, p in zip(out, params)]
    return _with_predictions(out, [p.threshold for p in params], predictable)


def _analyse_stacked(data: Sequence[RunData], params: Sequence[Params]) -> list[Analysis]:
    """Analyse runs with the same number of points, one row each; no prediction yet."""
    x = np.stack([d.x for d in data]).astype(np.float64)
    y = np.stack([d.y for d in data]).astype(np.float64)
    mean_x, mean_y = np.mean(x, axis=1), np.mean(y, axis=1)
    raw = _hessians(np.mean(x * x, axis=1), mean_x)
    rhs = np.stack([np.mean(x * y, axis=1), mean_y], axis=1)
    # lstsq takes one system at a time; it keeps a degenerate run (every x alike) finite, as the minimum-norm line.
    theta = np.array([np.linalg.lstsq(h, r, rcond=None)[0] for h, r in zip(raw, rhs)])
    w_star, b_star = theta[:, 0], theta[:, 1]
    loss_floor = np.mean(0.5 * (y - w_star[:, None] * x - b_star[:, None]) ** 2, axis=1)

    standardized = np.array([p.standardize for p in params])
    mean = np.where(standardized, mean_x, 0.0)
    std = np.where(standardized, np.std(x, axis=1), 1.0)
    xt = (x - mean[:, None]) / std[:, None]
    hessian = _hessians(np.mean(xt * xt, axis=1), np.mean(xt, axis=1))
    eigenvalues, vectors = np.linalg.eigh(hessian)
    w0 = np.array([d.w0 for d in data])
    e0 = np.stack([(w0 - w_star) * std, (w0 - w_star) * mean - b_star], axis=1)
    a = (vectors.transpose(0, 2, 1) @ e0[:, :, None])[:, :, 0]  # vectors.T @ e0, run by run
    excess = 0.5 * eigenvalues * a * a
    plain = np.array([plain_steps(p) for p in params])
    lr = np.array([p.lr for p in params])
    factors = 1.0 - lr[:, None] * eigenvalues
    for i in np.flatnonzero(~plain):  # momentum, Nesterov and Adam: a root of each mode's recurrence
        factors[i] = step_factors(params[i], eigenvalues[i])

    columns = zip(params, w_star.tolist(), b_star.tolist(), loss_floor.tolist(), hessian.tolist(),
                  eigenvalues.tolist(), vectors.tolist(), factors.tolist(), excess.tolist())
    return [Analysis(
        w_star=ws,
        b_star=bs,
        loss_floor=floor,
        hessian=(tuple(h[0]), tuple(h[1])),  # type: ignore[arg-type]
        hessian_eigenvalues=(lam[0], lam[1]),
        eigenvectors=(tuple(v[0]), tuple(v[1])),  # type: ignore[arg-type]
        condition_number=lam[1] / lam[0] if lam[0] > 0 else math.inf,
        lr_max=stability_bound(p, lam[1]),
        factors=(f[0], f[1]),
        initial_excess=(e[0], e[1]),
        predicted_stop_iteration=None,
    ) for p, ws, bs, floor, h, lam, v, f, e in columns]


def _hessians(mean_squares: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Stack each run's [[mean(x^2), mean(x)], [mean(x), 1]]: shape (runs, 2, 2)."""
    return np.stack([np.stack([mean_squares, means], axis=1), np.stack([means, np.ones_like(means)], axis=1)], axis=1)


def plain_steps(params: Params) -> bool:
    """True when every step is the course's lr * gradient: gd, or momentum / Nesterov with β = 0 (bit for bit)."""
    return params.optimizer == "gd" or (params.optimizer in ("momentum", "nesterov") and params.momentum == 0)


def closed_form(params: Params) -> bool:
    """True when the run takes plain full-batch gradient steps, whose loss the closed form above gives."""
    return plain_steps(params) and params.batch_size == 0


def trained_units(data: RunData, params: Params) -> tuple[float, float]:
    """Return the (mean, std) a run's x is standardised by: (0, 1) for a run that trains on x as drawn."""
    if not params.standardize:
        return 0.0, 1.0
    x = data.x.astype(np.float64)
    return float(np.mean(x)), float(np.std(x))


def stability_bound(params: Params, lam_max: float) -> float:
    """The largest stable lr of the run's update rule on a quadratic whose largest curvature is ``lam_max``.

    gd: 2/λmax. Heavy ball: 2(1 + β)/λmax. Nesterov: 2(1 + β)/((1 + 2β) λmax). Adam has none in closed form
    (its step is about lr whatever the curvature): inf.
    """
    beta = params.momentum
    return {"gd": 2.0 / lam_max, "momentum": 2.0 * (1 + beta) / lam_max,
            "nesterov": 2.0 * (1 + beta) / ((1 + 2 * beta) * lam_max), "adam": math.inf}[params.optimizer]


def step_factors(params: Params, eigenvalues: np.ndarray) -> np.ndarray:
    """What one step multiplies the error along each eigenvector by, in the long run.

    gd: the signed factor 1 - lr λ. Momentum and Nesterov: the modulus of the larger root of the mode's
    recurrence e[t+1] = (1 + β - lr λ') e[t] - β' e[t-1] (λ' = λ, β' = β for the heavy ball; Nesterov's
    is the same with lr λ (1 + β) and β lr λ folded in). Adam: nan, it has no fixed factor.
    """
    lr, beta = params.lr, params.momentum
    if plain_steps(params):
        return 1.0 - lr * eigenvalues
    if params.optimizer == "adam":
        return np.full(len(eigenvalues), math.nan)
    h = lr * eigenvalues
    if params.optimizer == "momentum":
        trace, det = 1 + beta - h, beta * np.ones_like(h)
    else:  # nesterov: v' = βv + g, p' = p - lr(g + βv') gives e' = (1+β)(1-h) e - β(1-h) e_prev
        trace, det = (1 + beta) * (1 - h), beta * (1 - h)
    roots = [np.roots([1.0, -tr, d]) for tr, d in zip(trace, det)]
    return np.array([float(np.max(np.abs(r))) for r in roots])


def _with_predictions(analyses: list[Analysis], thresholds: Sequence[float],
                      predictable: Sequence[bool]) -> list[Analysis]:
    """Give each predictable run the first t with L_t < threshold (L_t is non-increasing when lr < lr_max).

    One bisection over all of them at once; each value of L_t is Analysis.loss_at's, bit for bit (the same ufunc,
    products and sum, on float64 arrays).
    """
    rows = np.flatnonzero(predictable)
    if not rows.size:
        return analyses
    excess = np.array([analyses[i].initial_excess for i in rows])
    factors = np.array([analyses[i].factors for i in rows])
    floor = np.array([analyses[i].loss_floor for i in rows])
    threshold = np.array([thresholds[i] for i in rows])

    def below(t: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # an unstable run's loss grows past every float: inf
            power = np.power(factors, 2.0 * t.astype(np.float64)[:, None])
            return floor + (0 + excess[:, 0] * power[:, 0] + excess[:, 1] * power[:, 1]) < threshold

    stops = first_below(below, len(rows))
    out = list(analyses)
    for i, stop in zip(rows.tolist(), stops.tolist()):
        if stop >= 0:
            out[i] = dataclasses.replace(analyses[i], predicted_stop_iteration=stop)
    return out


def first_below(below: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """Return, for each of ``n`` non-increasing curves, the first t with below(t) true: by doubling, then bisecting.

    ``below(t)`` tests every curve at its own t. A curve still above at the last power of two within MAX_PREDICTED
    (2^49, about 5.6e14) gets -1 ("never").
    """
    hi = np.ones(n, np.int64)
    stop = np.where(below(np.zeros(n, np.int64)), 0, -1)
    searching = stop < 0
    while True:  # double hi until the curve is below there
        searching &= ~below(hi)
        if not searching.any():
            break
        hi = np.where(searching, hi * 2, hi)
        searching &= hi <= MAX_PREDICTED
    found = (stop < 0) & (hi <= MAX_PREDICTED)
    lo = hi // 2  # below(lo) is false wherever found: lo is the last doubling that was not below
    while True:
        narrowing = found & (hi - lo > 1)
        if not narrowing.any():
            break
        mid = (lo + hi) // 2
        yes = below(mid)
        hi = np.where(narrowing & yes, mid, hi)
        lo = np.where(narrowing & ~yes, mid, lo)
    return np.where(found, hi, stop)
