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

from personax.independence.kernels import (
    Factorised,
    check_widths,
    contingency,
    factorise,
    kernel_range_problem,
    labelled_pair,
    median_sigma,
    sample_std,
)
from personax.independence.result import TestResult, invalid_result

NULL = "lpb4"
LPB4_MIN_WEIGHTS = 4  # momentchi2's LPB4 needs four moments' worth of weights
NUM_FEATURES = 5  # causal-learn's RIT uses 5 features per variable
PAPER_MEDIAN_ROWS = 500  # causal-learn takes the median distance over the first 500 rows


def _paper_sigma(z: np.ndarray) -> float:
    """causal-learn: median of the non-zero distances among the first 500 rows (1 if zero)."""
    head = factorise(z[:PAPER_MEDIAN_ROWS])
    if head.values.size < 2:
        return math.nan
    sigma = median_sigma(head.values, head.counts)
    return 1.0 if sigma == 0 else sigma


def _standardised_values(f: Factorised) -> np.ndarray:
    """Distinct values z-scored with the row mean and standard deviation (ddof=1)."""
    return (f.values - f.values @ f.counts / f.counts.sum()) / sample_std(f.values, f.counts)


def restore_numpy_math_alias() -> None:
    """momentchi2's latest release (0.1.8) computes LPB4's cumulants with
    ``np.math.factorial``, an alias of the standard library's ``math`` that NumPy 2 removed:
    every LPB4 call then raised, and the fallback below silently used HBE for every p-value
    (causal-learn's RCIT too). Restoring the alias gives LPB4 back, as in the NumPy 1
    environment the paper ran in. Done when this module is imported, so that a causal-learn
    reference computed in the same process uses LPB4 as well."""
    if not hasattr(np, "math"):
        np.math = math  # the very module NumPy 1 exposed under that name


restore_numpy_math_alias()


def weighted_chi2_sf(weights: np.ndarray, statistic: float) -> tuple[float, str]:
    from momentchi2 import hbe, lpb4

    if statistic <= 0:
        return 1.0, ""
    if len(weights) < LPB4_MIN_WEIGHTS:
        # momentchi2 itself runs HBE then (with a warning); say so in the null column
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(max(1 - hbe(weights, statistic), 0.0)), "hbe"
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


def rcit(
    x: Any,
    y: Any,
    *,
    seed: int = 0,
    compat: str | None = None,
    sigma_x: float | None = None,
    sigma_y: float | None = None,
    nominal_x: bool = False,
    nominal_y: bool = False,
) -> TestResult:
    """Test x ⟂ y with RCIT's unconditional form (RIT), seeded: same seed → same p-value.

    ``compat="paper"``: causal-learn's ``CIT(data, "rcit")`` for one pair, with the random
    draws of ``np.random.seed(seed)`` (causal-learn draws from numpy's global state; we draw
    the same numbers from a private ``RandomState(seed)``), kernel width = median distance over
    the first 500 rows. Default: a private ``default_rng(seed)`` and the exact median distance
    over all rows (so the result does not depend on row order); ``nominal_x`` / ``nominal_y``:
    the variable holds category codes without order, so its random features are drawn on the
    one-hot encoding (all categories √2 apart) instead of on the codes.
    """
    check_widths(sigma_x=sigma_x, sigma_y=sigma_y)
    fx, fy, nominal_x, nominal_y = labelled_pair(x, y, nominal_x, nominal_y)
    n = fx.codes.size
    # Values near 1e±155 overflow the squared distances and kernel widths.
    for values in (fx.values, fy.values):
        if (problem := kernel_range_problem(values)) is not None:
            return invalid_result("rcit", n, NULL, problem, seed=seed)
    if n < 3:
        return invalid_result("rcit", n, NULL, "fewer than 3 complete rows", seed=seed)
    if fx.values.size < 2 or fy.values.size < 2:
        return invalid_result("rcit", n, NULL, "constant column in this pair", seed=seed)
    # Random features are functions of the value: compute them on the distinct values only.
    zx, zy = _standardised_values(fx), _standardised_values(fy)
    if compat == "paper":
        draw = np.random.RandomState(seed)
        sigma_x, sigma_y = _paper_sigma(zx[fx.codes]), _paper_sigma(zy[fy.codes])
        if math.isnan(sigma_x) or math.isnan(sigma_y):
            # causal-learn's width is undefined there (its eigenvalue solver then fails).
            return invalid_result(
                "rcit", n, NULL,
                f"the first {PAPER_MEDIAN_ROWS} rows of the pair hold one value of "
                f"{'x' if math.isnan(sigma_x) else 'y'}, so causal-learn's width is undefined",
                seed=seed,
            )  # fmt: skip
        width_rule = "median over first 500 rows"
    elif compat is None:
        draw = np.random.default_rng(seed)
        # widths in raw units (e.g. computed once per column) → z-score units
        sigma_x = (
            sigma_x / sample_std(fx.values, fx.counts) if sigma_x else median_sigma(zx, fx.counts)
        )
        sigma_y = (
            sigma_y / sample_std(fy.values, fy.counts) if sigma_y else median_sigma(zy, fy.counts)
        )
        width_rule = "median heuristic (all rows)"
    else:
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")

    def features(z: np.ndarray, counts: np.ndarray, sigma: float, nominal: bool) -> np.ndarray:
        if nominal and compat is None:
            # one-hot rows: w·e_c is column c of w; every pair of categories is √2 apart
            w = (1 / np.sqrt(2)) * draw.normal(size=(NUM_FEATURES, z.size))
            b = 2 * np.pi * draw.uniform(size=(NUM_FEATURES, 1))
            feat = np.sqrt(2) * np.cos(w + b).T
        else:
            w = (1 / sigma) * draw.normal(size=(NUM_FEATURES, 1))
            b = 2 * np.pi * draw.uniform(size=(NUM_FEATURES, 1))
            feat = np.sqrt(2) * np.cos(w @ z[None, :] + b).T  # distinct values × features
        mean = counts @ feat / n
        sd = np.sqrt(counts @ (feat - mean) ** 2 / (n - 1))
        return (feat - mean) / sd  # standardised over the rows (ddof=1), centred

    res_x = features(zx, fx.counts, sigma_x, nominal_x)
    res_y = features(zy, fy.counts, sigma_y, nominal_y)
    if compat is None:
        width_rule += "; one-hot for nominal" if nominal_x or nominal_y else ""
    table = contingency(fx, fy) if fx.values.size * fy.values.size <= n else None
    if table is not None:
        cxy = res_x.T @ table @ res_y / (n - 1)
        products = (res_x[:, None, :, None] * res_y[None, :, None, :]).reshape(table.size, -1)
        cov = products.T @ (table.reshape(-1, 1) * products) / n
    else:
        rows_x, rows_y = res_x[fx.codes], res_y[fy.codes]
        cxy = rows_x.T @ rows_y / (n - 1)
        products = (rows_x[:, :, None] * rows_y[:, None, :]).reshape(n, -1)
        cov = products.T @ products / n
    statistic = float(n * np.sum(cxy**2))
    eig = np.linalg.eigvalsh(cov)
    p_value, null_method = weighted_chi2_sf(eig[eig > 0], statistic)
    cxx = res_x.T @ (fx.counts[:, None] * res_x) / (n - 1)
    cyy = res_y.T @ (fy.counts[:, None] * res_y) / (n - 1)
    effect = float(np.sum(cxy**2) / math.sqrt(np.sum(cxx**2) * np.sum(cyy**2)))
    return TestResult(
        test="rcit",
        statistic=statistic,
        p_value=p_value,
        n=n,
        null=null_method or NULL,
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
