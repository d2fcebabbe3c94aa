"""Unconditional RCIT (randomised independence test, Strobl et al. 2019): random Fourier features.

The null (a weighted sum of chi-squares) is approximated by Lindsay–Pilla–Basak with four
moments, falling back to Hall–Buckley–Eagleson, as in causal-learn; those two moment methods
come from the ``momentchi2`` package.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.spatial.distance import pdist

from personax.independence.kernels import factorise, median_sigma
from personax.independence.result import TestResult, invalid_result, paired_finite

NULL = "lpb4"
NUM_FEATURES = 5  # causal-learn's RIT uses 5 features per variable
PAPER_MEDIAN_ROWS = 500  # causal-learn takes the median distance over the first 500 rows


def _paper_sigma(z: np.ndarray) -> float:
    dist = pdist(z[:PAPER_MEDIAN_ROWS, None])
    nonzero = dist[dist != 0]
    sigma = float(np.median(nonzero)) if nonzero.size else math.nan
    return 1.0 if sigma == 0 else sigma


def _standardise(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=0)) / a.std(axis=0, ddof=1)


def _weighted_chi2_sf(weights: np.ndarray, statistic: float) -> tuple[float, str]:
    from momentchi2 import hbe, lpb4

    if statistic <= 0:
        return 1.0, ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = 1 - lpb4(weights, statistic)
            method = "lpb4"
        except Exception:  # noqa: BLE001 — lpb4 fails on degenerate moments; causal-learn falls back
            p, method = 1 - hbe(weights, statistic), "hbe"
        if np.isnan(p):
            p, method = 1 - hbe(weights, statistic), "hbe"
    return float(max(p, 0.0)), method


def rcit(x: Any, y: Any, *, seed: int = 0, compat: str | None = None) -> TestResult:
    """Test x ⟂ y with RCIT's unconditional form (RIT), seeded: same seed → same p-value.

    ``compat="paper"``: causal-learn's ``CIT(data, "rcit")`` for one pair, with the random
    draws of ``np.random.seed(seed)`` (causal-learn draws from numpy's global state; we draw
    the same numbers from a private ``RandomState(seed)``), kernel width = median distance over
    the first 500 rows. Default: a private ``default_rng(seed)`` and the exact median distance
    over all rows (so the result does not depend on row order).
    """
    xs, ys = paired_finite(x, y)
    n = xs.size
    if n < 3:
        return invalid_result("rcit", n, NULL, "fewer than 3 complete rows", seed=seed)
    if np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return invalid_result("rcit", n, NULL, "constant column in this pair", seed=seed)
    zx, zy = _standardise(xs), _standardise(ys)
    if compat == "paper":
        draw = np.random.RandomState(seed)
        sigma_x, sigma_y = _paper_sigma(zx), _paper_sigma(zy)
        width_rule = "median over first 500 rows"
    elif compat is None:
        draw = np.random.default_rng(seed)
        fx, fy = factorise(zx), factorise(zy)
        sigma_x = median_sigma(fx.values, fx.counts)
        sigma_y = median_sigma(fy.values, fy.counts)
        width_rule = "median heuristic (all rows)"
    else:
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")

    def features(z: np.ndarray, sigma: float) -> np.ndarray:
        w = (1 / sigma) * draw.normal(size=(NUM_FEATURES, 1))
        b = 2 * np.pi * draw.uniform(size=(NUM_FEATURES, 1))
        return _standardise(np.sqrt(2) * np.cos(w @ z[None, :] + b).T)

    f_x, f_y = features(zx, sigma_x), features(zy, sigma_y)
    res_x, res_y = f_x - f_x.mean(axis=0), f_y - f_y.mean(axis=0)
    cxy = res_x.T @ res_y / (n - 1)
    statistic = float(n * np.sum(cxy**2))
    products = (res_x[:, :, None] * res_y[:, None, :]).reshape(n, -1)
    cov = products.T @ products / n
    eig = np.linalg.eigvalsh(cov)
    p_value, null_method = _weighted_chi2_sf(eig[eig > 0], statistic)
    cxx, cyy = res_x.T @ res_x / (n - 1), res_y.T @ res_y / (n - 1)
    effect = float(np.sum(cxy**2) / math.sqrt(np.sum(cxx**2) * np.sum(cyy**2)))
    return TestResult(
        test="rcit",
        statistic=statistic,
        p_value=p_value,
        n=n,
        null=NULL,
        params={
            "seed": seed,
            "num_features": NUM_FEATURES,
            "sigma_x": sigma_x,
            "sigma_y": sigma_y,
            "width_rule": width_rule,
            "null_method": null_method,
        },
        effect_size=effect,
    )
