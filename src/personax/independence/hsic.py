"""HSIC independence test (Gretton et al. 2008) with the gamma approximation of its null."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from personax.independence.kernels import (
    CentredGramSums,
    DeltaKernel,
    GaussianKernel,
    approximation_note,
    centred_gram_sums,
    check_widths,
    gamma_null_result,
    kernel_range_problem,
    labelled_pair,
    median_sigma,
    sample_std,
)
from personax.independence.result import TestResult, invalid_result

NULL = "gamma"
PAPER_SIGMA = 1.0 / math.sqrt(2.0)  # conditional_independence.hsic_test's fixed width


def hsic(
    x: Any,
    y: Any,
    *,
    compat: str | None = None,
    sigma_x: float | None = None,
    sigma_y: float | None = None,
    approx: str | None = None,
    nominal_x: bool = False,
    nominal_y: bool = False,
    precomputed: CentredGramSums | None = None,
) -> TestResult:
    """Test x ⟂ y with HSIC (rows where either value is missing are dropped).

    ``compat="paper"``: exactly ``conditional_independence.hsic_test`` — raw (unstandardised)
    values, fixed kernel width 1/√2 (k = exp(-(u - v)²)) whose cross term is computed in float32
    as that library does, biased statistic tr(Kxc·Kyc)/n², gamma null with the moments of
    Gretton et al. (2008, theorems 3 and 4). Default: the same statistic and null, exact
    float64 kernel, median-heuristic width of each variable (units no longer matter);
    ``sigma_x`` / ``sigma_y`` (raw units) override it. ``approx="grid"``,
    ``nominal_x`` / ``nominal_y`` as in :func:`kci`.
    """
    check_widths(sigma_x=sigma_x, sigma_y=sigma_y)
    fx, fy, nominal_x, nominal_y = labelled_pair(x, y, nominal_x, nominal_y)
    n = fx.codes.size
    # Values near 1e±155 overflow the squared distances and kernel widths.
    for values in (fx.values, fy.values):
        if (problem := kernel_range_problem(values)) is not None:
            return invalid_result("hsic", n, NULL, problem)
    if n < 6:  # the variance formula divides by (n-1)(n-2)(n-3) and vanishes at n = 4, 5
        return invalid_result("hsic", n, NULL, "fewer than 6 complete rows")
    if sample_std(fx.values, fx.counts) == 0 or sample_std(fy.values, fy.counts) == 0:
        return invalid_result("hsic", n, NULL, "constant column in this pair")
    if compat == "paper":
        width_rule = "fixed 1/sqrt(2), raw units"
        kx = ky = GaussianKernel(PAPER_SIGMA, single_precision_cross=True)
    elif compat is None:
        width_rule = "median heuristic"
        kx = (
            DeltaKernel()
            if nominal_x
            else GaussianKernel(sigma_x or median_sigma(fx.values, fx.counts))
        )
        ky = (
            DeltaKernel()
            if nominal_y
            else GaussianKernel(sigma_y or median_sigma(fy.values, fy.counts))
        )
    else:
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")
    # Raw values of 1e4 or more overflow paper mode's fixed-width kernel (the reference gives
    # NaN too); the result says so through its NaN, not through numpy warnings on stderr.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sums = precomputed or centred_gram_sums(fx, fy, kx, ky, fourth=True, approx=approx)
    statistic = sums.cross / n**2
    mu_x = sums.offdiag_x / (n * (n - 1))
    mu_y = sums.offdiag_y / (n * (n - 1))
    mean = (1 + mu_x * mu_y - mu_x - mu_y) / n
    var = 2 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3)) * sums.fourth / n**2
    return gamma_null_result(
        "hsic",
        statistic,
        mean,
        var,
        n=n,
        sums=sums,
        sigmas=(kx.sigma, ky.sigma),
        width_rule=width_rule,
        note=approximation_note(fx, fy, approx),
    )
