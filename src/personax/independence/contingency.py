"""Chi-square and G-square tests of independence on the contingency table of a pair."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from personax.independence.kernels import as_factorised_pair, contingency
from personax.independence.result import TestResult, invalid_result

MIN_EXPECTED = 5.0  # the usual rule of thumb for the chi-square approximation


def _test(x: Any, y: Any, name: str, compat: str | None) -> TestResult:
    if compat not in (None, "paper"):
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")
    fx, fy = as_factorised_pair(x, y)
    n = fx.codes.size
    if n == 0:
        return invalid_result(name, 0, "chi2", "no complete rows")
    table = contingency(fx, fy)
    rows, cols = table.shape
    dof = (rows - 1) * (cols - 1)
    if dof == 0 and compat is None:
        return invalid_result(name, n, "chi2", "only one distinct value in this pair", dof=0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    pearson = float(np.sum((table - expected) ** 2 / expected))
    if name == "chisq":
        statistic = pearson
    else:
        ratio = np.where(table > 0, table / expected, 1.0)
        statistic = float(2 * np.sum(table * np.log(ratio)))
    # causal-learn returns 1 when there are no degrees of freedom
    p_value = 1.0 if dof == 0 else float(stats.chi2.sf(statistic, dof))
    small = int(np.sum(expected < MIN_EXPECTED))
    note = ""
    if small:
        note = (
            f"{small} of {expected.size} cells have expected count < {MIN_EXPECTED:g} "
            f"(min {expected.min():.2g}); the chi-square approximation may be poor"
        )
    smaller = min(rows, cols) - 1
    # Cramér's V, from the Pearson statistic for both tests: the G statistic can exceed
    # n·(min(r, c) − 1) (2n·ln 2 for a perfect 2×2 association), so a "V" from it exceeds 1.
    effect = math.sqrt(pearson / (n * smaller)) if smaller > 0 else math.nan
    return TestResult(
        test=name,
        statistic=statistic,
        p_value=p_value,
        n=n,
        null="chi2",
        params={"dof": int(dof), "rows": int(rows), "cols": int(cols)},
        effect_size=effect,
        note=note,
    )


def chisq(x: Any, y: Any, *, compat: str | None = None) -> TestResult:
    """Pearson chi-square test of independence (no continuity correction, as causal-learn).

    Both inputs are treated as categorical (each distinct value is a category). The paper mode
    returns p = 1 when a pair has a single category; the default returns NaN with a note.
    """
    return _test(x, y, "chisq", compat)


def gsq(x: Any, y: Any, *, compat: str | None = None) -> TestResult:
    """G-square (likelihood-ratio) test of independence, as causal-learn's ``gsq``."""
    return _test(x, y, "gsq", compat)
