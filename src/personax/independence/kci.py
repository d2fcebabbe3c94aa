"""Unconditional KCI (kernel-based independence test, Zhang et al. 2011) with its gamma null."""

from __future__ import annotations

from typing import Any

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
    paper_kci_sigma,
    sample_std,
)
from personax.independence.result import TestResult, invalid_result

NULL = "gamma"


def kci(
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
    """Test x ⟂ y with KCI (rows where either value is missing are dropped).

    ``compat="paper"``: exactly causal-learn's ``CIT(data, "kci")`` for one pair — inputs
    z-scored (ddof=1), Gaussian kernel of width 0.8 / 0.5 / 0.3 (n < 200 / < 1200 / else),
    statistic tr(Kxc·Kyc), gamma approximation of the null. Default: the same statistic and
    null with the median-heuristic width of each variable (scale-free, adapts to the data);
    ``sigma_x`` / ``sigma_y`` (raw units) override it, e.g. widths computed once per column.
    ``approx="grid"`` (opt-in) snaps many-valued variables to bins where the exact cost is
    O(n²)-like time: both sides continuous, or one side with more than 4,096 distinct values
    (memory stays O(n) either way).
    ``nominal_x`` / ``nominal_y`` (default mode): the variable holds category codes without
    order, so it gets the delta kernel instead of a Gaussian one.
    """
    check_widths(sigma_x=sigma_x, sigma_y=sigma_y)
    fx, fy, nominal_x, nominal_y = labelled_pair(x, y, nominal_x, nominal_y)
    n = fx.codes.size
    # Values near 1e±155 overflow the squared distances and kernel widths.
    for values in (fx.values, fy.values):
        if (problem := kernel_range_problem(values)) is not None:
            return invalid_result("kci", n, NULL, problem)
    if n < 2:
        return invalid_result("kci", n, NULL, "fewer than 2 complete rows")
    sd_x, sd_y = sample_std(fx.values, fx.counts), sample_std(fy.values, fy.counts)
    if sd_x == 0 or sd_y == 0:
        return invalid_result("kci", n, NULL, "constant column in this pair")
    if compat == "paper":
        width_rule = "causal-learn empirical"
        sigma_x, sigma_y = paper_kci_sigma(n) * sd_x, paper_kci_sigma(n) * sd_y
    elif compat is None:
        width_rule = "median heuristic"
        sigma_x = sigma_x or median_sigma(fx.values, fx.counts)
        sigma_y = sigma_y or median_sigma(fy.values, fy.counts)
    else:
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")
    kx = DeltaKernel() if nominal_x and compat is None else GaussianKernel(sigma_x)
    ky = DeltaKernel() if nominal_y and compat is None else GaussianKernel(sigma_y)
    # ``precomputed``: the battery's shared pass over a many-valued attribute (same kernels)
    sums = precomputed or centred_gram_sums(fx, fy, kx, ky, approx=approx)
    mean = sums.trace_x * sums.trace_y / n
    var = 2.0 * sums.frob_x * sums.frob_y / n**2
    return gamma_null_result(
        "kci",
        sums.cross,
        mean,
        var,
        n=n,
        sums=sums,
        sigmas=(kx.sigma, ky.sigma),
        width_rule=width_rule,
        note=approximation_note(fx, fy, approx),
    )
