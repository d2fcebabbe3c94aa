"""Conditional independence tests x ⟂ y | z: Fisher-z, KCI and RCIT (the RCoT variant).

Each returns the package's ``TestResult`` (statistic, p_value, n). With ``z`` empty or None the
kernel tests delegate to the unconditional ``kci`` / ``rcit`` of this package.

- ``fisherz``: partial correlation, Fisher's z transform, normal null — the linear-Gaussian
  test; the same formula as causal-learn's ``fisherz`` so PC skeletons agree with it.
- ``kci_ci``: kernel conditional independence (Zhang, Peters, Janzing & Schölkopf 2011):
  Gaussian kernels on standardised data, kernel ridge residuals given z, the trace statistic
  and a gamma approximation of its null. O(n³) time, O(n²) memory: keep n to a few thousand
  (PC subsamples above ``personax.discovery.citests.KCI_MAX_ROWS``).
- ``rcit_ci``: randomized conditional independence test (RCIT, or its RCoT variant; Strobl,
  Zhang & Visweswaran 2019): random Fourier features of x, of (y, z) and of z, linear
  regression of the x and y features on
  the z features, the squared Frobenius norm of the residual cross-covariance, and the
  Lindsay–Pilla–Basak approximation of its weighted-chi-square null (as the unconditional
  ``rcit``). Linear in n; seeded.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist

from personax.independence.kernels import GaussianKernel, gamma_sf
from personax.independence.rcit import weighted_chi2_sf
from personax.independence.result import TestResult, invalid_result

KCI_CI_EPSILON = 1e-3
"""Ridge of the kernel regression on z (the value causal-learn uses)."""
LOW_RANK_TOL = 1e-6
LOW_RANK_MAX = 400
"""Default KCI replaces the kernels of (x, z) and y by pivoted-Cholesky factors with residual
diagonal ≤ LOW_RANK_TOL. A kernel that needs more than LOW_RANK_MAX columns to get there is
used exact instead: a factor cut short at the cap moved p-values by up to 170% (n = 1,500, five
dimensions in x and z). ``compat="paper"`` stays exact."""


def _as_matrix(a: np.ndarray | Sequence[float] | None, name: str, n: int | None) -> np.ndarray:
    if a is None:
        return np.empty((0 if n is None else n, 0))
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D array, got {arr.ndim} dimensions.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but x has {n}.")
    return arr


def _inputs(x, y, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z as 2-D float arrays restricted to the rows where all of them are finite."""
    xm = _as_matrix(x, "x", None)
    n = xm.shape[0]
    ym, zm = _as_matrix(y, "y", n), _as_matrix(z, "z", n)
    keep = np.isfinite(xm).all(axis=1) & np.isfinite(ym).all(axis=1) & np.isfinite(zm).all(axis=1)
    return xm[keep], ym[keep], zm[keep]


def _too_few(test: str, null: str, n: int, zm: np.ndarray) -> TestResult | None:
    needed = zm.shape[1] + 4
    if n < needed:
        return invalid_result(test, n, null, f"fewer than {needed} complete rows")
    return None


def _standardize(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=0)
    sd[sd == 0] = 1.0
    return (a - a.mean(axis=0)) / sd


def scaled_correlation(data: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of ``data``, computed on each column divided by its
    largest magnitude: correlation is scale-free, but ``np.corrcoef`` squares the raw values,
    which overflows to inf near |x| ~ 1e155. Entries may still be non-finite (constant or
    non-finite columns); callers check."""
    data = np.asarray(data, dtype=float)
    scale = np.max(np.abs(data), axis=0)
    scale[~(scale > 0)] = 1.0
    with np.errstate(all="ignore"):
        return np.corrcoef(data / scale, rowvar=False)


def fisherz_from_correlation(correlation: np.ndarray, n: int) -> TestResult:
    """Fisher-z test of variables 0 ⟂ 1 given the rest, from their correlation matrix."""
    n_cond = correlation.shape[0] - 2
    try:
        precision = np.linalg.inv(correlation)
    except np.linalg.LinAlgError:
        precision = np.linalg.pinv(correlation)  # collinear columns: use the pseudo-inverse
    r = -precision[0, 1] / np.sqrt(abs(precision[0, 0] * precision[1, 1]))
    r = float(np.clip(r, -1 + np.finfo(float).eps, 1 - np.finfo(float).eps))
    dof = max(n - n_cond - 3, 1)
    z_score = np.sqrt(dof) * 0.5 * np.log((1 + r) / (1 - r))
    p = 2 * stats.norm.sf(abs(z_score))
    return TestResult(
        test="fisherz",
        statistic=float(z_score),
        p_value=float(p),
        n=int(n),
        null="normal",
        params={"n_conditioning": int(n_cond)},
        effect_size=r,
    )


def fisherz(x, y, z=None) -> TestResult:
    """Fisher-z partial-correlation test of x ⟂ y | z (z: None, 1-D or n × k)."""
    xm, ym, zm = _inputs(x, y, z)
    if xm.shape[1] != 1 or ym.shape[1] != 1:
        raise ValueError("fisherz tests one column x against one column y.")
    if (short := _too_few("fisherz", "normal", xm.shape[0], zm)) is not None:
        return short
    data = np.hstack([xm, ym, zm])
    if np.any(np.ptp(data, axis=0) == 0):
        return invalid_result(
            "fisherz", data.shape[0], "normal", "a column is constant: correlation undefined"
        )
    correlation = scaled_correlation(data)
    if not np.all(np.isfinite(correlation)):
        return invalid_result("fisherz", data.shape[0], "normal", "correlation not finite")
    return fisherz_from_correlation(correlation, data.shape[0])


def _kci_width(n: int) -> float:
    # causal-learn's empirical rule for the conditional KCI (sigma per unit dimension).
    if n < 200:
        return 1.2
    if n < 1200:
        return 0.7
    return 0.4


def _gaussian_gram(data: np.ndarray, sigma: float) -> np.ndarray:
    """Centred Gaussian Gram matrix on rows of ``data``: the product over dimensions of the
    package's 1-D Gaussian kernel is the multivariate kernel exp(-‖u - v‖² / (2 sigma²))."""
    kernel = GaussianKernel(sigma)
    gram = np.ones((data.shape[0], data.shape[0]))
    for column in data.T:
        gram *= kernel(column, column)
    row_mean = gram.mean(axis=1)
    return gram - row_mean[:, None] - row_mean[None, :] + row_mean.mean()


def _low_rank_features(
    data: np.ndarray, sigma: float, tol: float, max_rank: int
) -> np.ndarray | None:
    """n × r matrix L with L Lᵀ ≈ the centred Gaussian Gram matrix of ``data``, or None.

    Pivoted incomplete Cholesky: stops when every residual diagonal entry is ≤ ``tol`` (the
    kernel's diagonal is 1). O(n r²) instead of the O(n²) Gram matrix and the O(n³) products
    the exact test needs. None when ``max_rank`` columns do not reach ``tol`` (with
    ``max_rank < n``): the caller then needs the exact kernel, not a truncated one.
    """
    n = data.shape[0]
    residual = np.ones(n)
    factor = np.zeros((n, max_rank))
    rank = 0
    while rank < max_rank:
        pivot = int(np.argmax(residual))
        if residual[pivot] <= tol:
            break
        distances = np.sum((data - data[pivot]) ** 2, axis=1)
        column = np.exp(-distances / (2 * sigma**2)) - factor[:, :rank] @ factor[pivot, :rank]
        factor[:, rank] = column / np.sqrt(residual[pivot])
        residual = np.maximum(residual - factor[:, rank] ** 2, 0.0)
        rank += 1
    if rank == max_rank < n and residual.max() > tol:
        return None
    factor = factor[:, :rank]
    return factor - factor.mean(axis=0)  # H L: features of the centred kernel


def _residual_kernel(data: np.ndarray, sigma: float, rz: np.ndarray, *, exact: bool) -> np.ndarray:
    """Rz·K·Rz for the Gaussian kernel K of ``data``.

    Unless ``exact``, through a low-rank factor L of K: (Rz·L)(Rz·L)ᵀ costs n² r instead of
    n³, the same p-value up to ~1e-3, several times faster from a few hundred rows on. A
    kernel whose factor would need more than LOW_RANK_MAX columns is used exact.
    """
    if not exact:
        factor = _low_rank_features(data, sigma, LOW_RANK_TOL, min(data.shape[0], LOW_RANK_MAX))
        if factor is not None:
            features = rz @ factor
            return features @ features.T
    return rz @ _gaussian_gram(data, sigma) @ rz


def _gamma_p(statistic: float, mean: float, var: float) -> float:
    """Gamma law matched to the null's mean and variance (Satterthwaite)."""
    if mean <= 0 or var <= 0:
        return float("nan")
    return gamma_sf(statistic, mean**2 / var, var / mean)


def _check_compat(compat: str | None) -> None:
    if compat not in (None, "paper"):
        raise ValueError(f"unknown compat mode {compat!r}; use None or 'paper'.")


def _zscore(a: np.ndarray, compat: str | None) -> np.ndarray:
    if compat is None:
        return _standardize(a)
    sd = a.std(axis=0, ddof=1)  # causal-learn: scipy.stats.zscore(ddof=1), NaN → 0
    sd[sd == 0] = np.inf
    return (a - a.mean(axis=0)) / sd


def kci_residual_operator(
    z, *, epsilon: float = KCI_CI_EPSILON, compat: str | None = None
) -> np.ndarray:
    """eps (Kz + eps I)⁻¹: the residual operator of kernel ridge regression on z.

    The O(n³) part of conditional KCI that depends on z only; PC asks many questions with the
    same conditioning set, so callers may compute it once and pass it to :func:`kci_ci`.
    """
    _check_compat(compat)
    zs = _zscore(_as_matrix(z, "z", None), compat)
    n = zs.shape[0]
    kz = _gaussian_gram(zs, _kci_width(n) * np.sqrt(zs.shape[1]))
    shifted = kz + epsilon * np.eye(n)
    if compat == "paper":
        return epsilon * np.linalg.pinv(shifted, hermitian=True)
    return epsilon * np.linalg.inv(shifted)


def kci_ci(
    x,
    y,
    z=None,
    *,
    epsilon: float = KCI_CI_EPSILON,
    residual_operator: np.ndarray | None = None,
    compat: str | None = None,
) -> TestResult:
    """Conditional KCI test of x ⟂ y | z with the gamma null approximation.

    Default: inputs standardised, Gaussian kernels on (x, z), on y and on z, each of width
    sigma·sqrt(dimension) with causal-learn's empirical sigma (1.2 / 0.7 / 0.4 for n < 200 /
    < 1200 / else). ``compat="paper"``: causal-learn's ``CIT(data, "kci")`` — inputs z-scored
    with ddof=1, x augmented with z/2, every width scaled by the dimension of z, pseudo-inverse;
    its gamma moments come from eigenvectors truncated at 1e-5 of the largest eigenvalue, ours
    from all of them (a relative difference in the p-value of about 1e-4 or less). The
    default mode also factorises the kernels of (x, z) and y (pivoted Cholesky, see
    ``LOW_RANK_TOL``), which is several times faster for n in the hundreds and above; a kernel
    too rich for ``LOW_RANK_MAX`` columns stays exact. Unconditional (z empty): the Level I
    ``kci`` (with the same ``compat``).
    ``residual_operator``: the result of :func:`kci_residual_operator` for this z (optional).
    """
    _check_compat(compat)
    xm, ym, zm = _inputs(x, y, z)
    if zm.shape[1] == 0:
        from personax.independence.kci import kci

        return kci(
            xm[:, 0] if xm.shape[1] == 1 else xm,
            ym[:, 0] if ym.shape[1] == 1 else ym,
            compat=compat,
        )
    n = xm.shape[0]
    if (short := _too_few("kci", "gamma", n, zm)) is not None:
        return short
    if np.ptp(xm) == 0 or np.ptp(ym) == 0:
        return invalid_result("kci", n, "gamma", "constant column in this test")
    width = _kci_width(n)
    rz = (
        kci_residual_operator(zm, epsilon=epsilon, compat=compat)
        if residual_operator is None
        else residual_operator
    )
    # Following Zhang et al. (2011), x is augmented with z before its kernel is residualised.
    if compat == "paper":
        xz = np.hstack([_zscore(xm, compat), 0.5 * _zscore(zm, compat)])
        ys = _zscore(ym, compat)
        sigma_x = sigma_y = width * np.sqrt(zm.shape[1])
    else:
        xz = _standardize(np.hstack([xm, zm]))
        ys = _standardize(ym)
        sigma_x, sigma_y = width * np.sqrt(xz.shape[1]), width * np.sqrt(ys.shape[1])
    kx_z = _residual_kernel(xz, sigma_x, rz, exact=compat == "paper")
    ky_z = _residual_kernel(ys, sigma_y, rz, exact=compat == "paper")
    both = kx_z * ky_z
    statistic = float(both.sum())  # trace(Kx|z · Ky|z), both matrices being symmetric
    # Under H0 the statistic is ≈ Σ λ_k χ²₁ with λ the eigenvalues of Kx|z ∘ Ky|z (the
    # Hadamard product of the two residual kernels): its mean is the trace and its variance
    # twice the squared Frobenius norm — O(n²), no eigendecomposition needed.
    mean = float(np.sum(np.diag(kx_z) * np.diag(ky_z)))
    var = float(2 * np.sum(both * both))
    return TestResult(
        test="kci",
        statistic=statistic,
        p_value=_gamma_p(statistic, mean, var),
        n=n,
        null="gamma",
        params={
            "sigma_x": float(sigma_x),
            "sigma_y": float(sigma_y),
            "epsilon": epsilon,
            "compat": compat or "",
            "n_conditioning": int(zm.shape[1]),
        },
    )


def _fourier_features(data: np.ndarray, n_features: int, rng: np.random.Generator) -> np.ndarray:
    # Median heuristic on the first 500 rows (as RCoT does); 1.0 if all distances are 0.
    distances = pdist(data[:500])
    positive = distances[distances > 0]
    width = float(np.median(positive)) if positive.size else 1.0
    weights = rng.standard_normal((data.shape[1], n_features)) / width
    phases = rng.uniform(0, 2 * np.pi, n_features)
    features = np.sqrt(2.0) * np.cos(data @ weights + phases)
    sd = features.std(axis=0, ddof=1)
    sd[sd == 0] = 1.0
    return (features - features.mean(axis=0)) / sd


def rcit_ci(
    x,
    y,
    z=None,
    *,
    seed: int | Sequence[int] = 0,
    n_features_xy: int = 5,
    n_features_z: int = 100,
    variant: str = "rcit",
):
    """Conditional RCIT test of x ⟂ y | z (random Fourier features, LPB4 null), seeded.

    ``variant="rcit"`` (default, as causal-learn): the features of y are drawn on (y, z);
    ``"rcot"``: on y alone (Strobl et al.'s faster variant). ``seed`` may be a sequence of
    integers (PC passes [seed, i, j, *conditioning set] so each question has its own stream,
    whatever the order of the questions).
    """
    if variant not in ("rcit", "rcot"):
        raise ValueError(f"unknown variant {variant!r}; use 'rcit' or 'rcot'.")
    # A numpy integer is the same seed as the Python int of its value (it used to be taken
    # as a sequence: another stream unconditionally, a TypeError given z).
    seed = int(seed) if isinstance(seed, numbers.Integral) else [int(s) for s in seed]
    xm, ym, zm = _inputs(x, y, z)
    if zm.shape[1] == 0:
        from personax.independence.rcit import rcit

        seed0 = (
            seed
            if isinstance(seed, int)
            else int(np.random.SeedSequence(seed).generate_state(1)[0])
        )
        return rcit(
            xm[:, 0] if xm.shape[1] == 1 else xm, ym[:, 0] if ym.shape[1] == 1 else ym, seed=seed0
        )
    n = xm.shape[0]
    if (short := _too_few("rcit", "lpb4", n, zm)) is not None:
        return short
    if np.ptp(xm) == 0 or np.ptp(ym) == 0:
        return invalid_result("rcit", n, "lpb4", "constant column in this test")
    rng = np.random.default_rng(seed)
    # Fewer z features than rows/4, or the regression on z would absorb all signal.
    n_features_z = max(1, min(n_features_z, n // 4))
    fx = _fourier_features(_standardize(xm), n_features_xy, rng)
    y_input = np.hstack([ym, zm]) if variant == "rcit" else ym
    fy = _fourier_features(_standardize(y_input), n_features_xy, rng)
    fz = _fourier_features(_standardize(zm), n_features_z, rng)
    czz = fz.T @ fz / (n - 1)
    ridge = 1e-10 * np.eye(fz.shape[1])
    res_x = fx - fz @ np.linalg.solve(czz + ridge, fz.T @ fx / (n - 1))
    res_y = fy - fz @ np.linalg.solve(czz + ridge, fz.T @ fy / (n - 1))
    cross = res_x.T @ res_y / (n - 1)
    statistic = float(n * np.sum(cross**2))
    products = (res_x[:, :, None] * res_y[:, None, :]).reshape(n, -1)
    products = products - products.mean(axis=0)
    eig = np.linalg.eigvalsh(products.T @ products / n)
    # The same weighted-chi-square null (Lindsay–Pilla–Basak) as the unconditional RCIT.
    p, null_method = weighted_chi2_sf(eig[eig > 0], statistic)
    return TestResult(
        test="rcit",
        statistic=statistic,
        p_value=p,
        n=n,
        null=null_method or "lpb4",
        params={
            "seed": seed if isinstance(seed, int) else list(seed),
            "n_features_xy": n_features_xy,
            "n_features_z": n_features_z,
            "variant": variant,
            "n_conditioning": int(zm.shape[1]),
        },
    )
