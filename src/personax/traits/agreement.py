"""Agreement statistics for trait scores: Krippendorff's alpha (ordinal) and ICC.

Level 0 ("insufficient information") is not a point on the ordinal scale, so callers pass it
as missing (NaN); both statistics then use the rated units only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def krippendorff_alpha_ordinal(ratings: np.ndarray, levels: Sequence[int] | None = None) -> float:
    """Krippendorff's alpha, ordinal metric, of ``ratings`` (rows = units, columns = raters;
    NaN = no rating). ``levels``: the scale's value domain (default: the observed values).

    NaN when fewer than two units have two ratings or the pairable ratings never vary (alpha is
    undefined without variation). Computed by the ``krippendorff`` package.
    """
    import krippendorff

    values = np.asarray(ratings, dtype=float)
    if values.ndim != 2 or values.shape[1] < 2:
        return float("nan")
    pairable = values[np.sum(~np.isnan(values), axis=1) >= 2]
    observed = np.unique(pairable[~np.isnan(pairable)])
    if pairable.shape[0] < 2 or observed.size < 2:
        return float("nan")
    domain = np.asarray(sorted(set(levels) | set(observed)) if levels is not None else observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = krippendorff.alpha(
            reliability_data=pairable.T, value_domain=domain, level_of_measurement="ordinal"
        )
    return float(alpha)


def icc_agreement(ratings: np.ndarray) -> float:
    """ICC(2,1): two-way random effects, absolute agreement, single rater (Shrout & Fleiss),
    over the units rated by every rater. NaN when fewer than two complete units or no variance.

    Hand-written: it is a few lines of ANOVA sums and no installed library provides it.
    """
    values = np.asarray(ratings, dtype=float)
    if values.ndim != 2:
        return float("nan")
    complete = values[~np.isnan(values).any(axis=1)]
    n, k = complete.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = complete.mean()
    ss_rows = k * np.sum((complete.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((complete.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((complete - grand) ** 2)
    ss_error = ss_total - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    if denominator <= 0 or not np.isfinite(denominator):
        return float("nan")
    return float((ms_rows - ms_error) / denominator)


def exact_agreement(ratings: np.ndarray) -> float:
    """Share of units (with at least two ratings) whose ratings are all equal; NaN if none."""
    values = np.asarray(ratings, dtype=float)
    if values.ndim != 2 or values.shape[0] == 0:
        return float("nan")
    agree, units = 0, 0
    for row in values:
        rated = row[~np.isnan(row)]
        if rated.size >= 2:
            units += 1
            agree += bool(np.all(rated == rated[0]))
    return agree / units if units else float("nan")
