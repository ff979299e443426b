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
from typing import Callable

import numpy as np

from reportgen.config.schema import Params
from reportgen.train.run import Analysis, RunData

#: Horizon of the closed-form search; beyond it a prediction is "never" in practice.
MAX_PREDICTED = 10**15


def analyse(data: RunData, params: Params) -> Analysis:
    """Compute the floor, Hessian, stability bound and predicted stop of one run.

    A standardised run's Hessian, eigenvectors and errors are those of the coordinates it trains in
    (``w' = w * std``, ``b' = b + w * mean``); its minimum and floor are the same line's, in the original units.
    """
    x = data.x.astype(np.float64)
    y = data.y.astype(np.float64)
    hessian = np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    rhs = np.array([np.mean(x * y), np.mean(y)])
    theta_star = np.linalg.lstsq(hessian, rhs, rcond=None)[0]
    w_star, b_star = (float(v) for v in theta_star)
    loss_floor = float(np.mean(0.5 * (y - w_star * x - b_star) ** 2))

    mean, std = trained_units(data, params)
    xt = (x - mean) / std
    hessian = np.array([[np.mean(xt * xt), np.mean(xt)], [np.mean(xt), 1.0]])
    eigenvalues, vectors = np.linalg.eigh(hessian)
    lam_min, lam_max = (float(v) for v in eigenvalues)
    lr_max = stability_bound(params, lam_max)
    e0 = np.array([(data.w0 - w_star) * std, (data.w0 - w_star) * mean - b_star])
    a = vectors.T @ e0
    initial_excess = tuple(float(v) for v in 0.5 * eigenvalues * a * a)
    factors = tuple(float(v) for v in step_factors(params, eigenvalues))

    result = Analysis(
        w_star=w_star,
        b_star=b_star,
        loss_floor=loss_floor,
        hessian=((float(hessian[0, 0]), float(hessian[0, 1])), (float(hessian[1, 0]), float(hessian[1, 1]))),
        hessian_eigenvalues=(lam_min, lam_max),
        eigenvectors=((float(vectors[0, 0]), float(vectors[0, 1])), (float(vectors[1, 0]), float(vectors[1, 1]))),
        condition_number=lam_max / lam_min if lam_min > 0 else math.inf,
        lr_max=lr_max,
        factors=factors,  # type: ignore[arg-type]
        initial_excess=initial_excess,  # type: ignore[arg-type]
        predicted_stop_iteration=None,
    )
    if params.threshold <= loss_floor or params.lr >= lr_max or not closed_form(params):
        return result
    return _with_prediction(result, params.threshold)


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


def _with_prediction(result: Analysis, threshold: float) -> Analysis:
    """Find the first t with L_t < threshold; L_t is non-increasing when lr < lr_max."""
    with np.errstate(over="ignore"):  # an unstable run's loss grows past every float: inf
        stop = _first_below(_scalar_loss(result), threshold)
    return result if stop is None else dataclasses.replace(result, predicted_stop_iteration=stop)


def _first_below(loss_at: Callable[[int], float], threshold: float) -> int | None:
    """Return the first t with loss_at(t) < threshold, by doubling then bisecting; None past MAX_PREDICTED."""
    if loss_at(0) < threshold:
        return 0
    hi = 1
    while not loss_at(hi) < threshold:
        hi *= 2
        if hi > MAX_PREDICTED:
            return None
    lo = hi // 2  # loss_at(lo) >= threshold
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if loss_at(mid) < threshold:
            hi = mid
        else:
            lo = mid
    return hi


def _scalar_loss(result: Analysis) -> Callable[[int], float]:
    """Return Analysis.loss_at for one whole t, bit for bit (the same ufunc, products and sum), without its cost
    per call (a bisection calls it some twenty times a run, 200,000 times in a 10,000-run grid)."""
    excess0, factors = np.asarray(result.initial_excess, np.float64), np.asarray(result.factors, np.float64)
    floor = result.loss_floor

    def loss_at(t: int) -> float:
        first, second = excess0 * np.power(factors, 2.0 * t)
        return floor + (0 + first + second)
    return loss_at
