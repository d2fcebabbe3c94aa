"""Gaussian-kernel machinery shared by KCI and HSIC (and reusable by conditional tests).

Public API
----------
- :class:`GaussianKernel` — ``k(u, v) = exp(-(u - v)^2 / (2 sigma^2))`` on 1-D values;
  ``single_precision_cross=True`` reproduces ``conditional_independence``'s kernel, whose
  cross term ``2·γ·u·v`` is computed in float32 (``scipy.linalg.blas.sgemm``).
- :class:`DeltaKernel` — for nominal categories (codes without order).
- :func:`paper_kci_sigma` — causal-learn's empirical width rule for (z-scored) data.
- :func:`median_sigma` — the median heuristic, exact and weighted by value counts.
- :func:`factorise` — a variable through its distinct values.
- :func:`centred_gram_sums` — every sum over the centred Gram matrices that KCI's and HSIC's
  gamma approximations need, computed without ever forming an n×n matrix when one side has
  few distinct values, and without ever forming ``H·K·H`` by matrix products.
- :func:`gamma_sf` — upper tail of the gamma law with a given mean and variance.

Why hand-written: the reference libraries build two dense n×n matrices per pair (O(n²) memory,
~0.7 GB each at n = 9,444). Trait scores take a handful of values, so with ``P`` the n×k
indicator matrix of a variable, ``K = P A Pᵀ`` with ``A`` the k×k kernel between the distinct
values; every trace and sum below then reduces exactly to k×k and k×l algebra on the
contingency table ``N = Pᵀ Q`` of the pair.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from personax.errors import BadInput
from personax.independence.result import TestResult

# Above these sizes the k×l algebra switches to blockwise evaluation (bounded memory).
SMALL_SIDE = 512  # the smaller side is kept dense (k × k)
DENSE_LIMIT = 4096  # the larger side is kept dense up to this many distinct values
BLOCK_BYTES = 4 * 2**20  # one kernel block: small enough to stay in cache across its uses
APPROXIMATIONS = (None, "grid")  # opt-in approximations for continuous × continuous pairs
GRID_SIZE = SMALL_SIDE  # bins per variable of the "grid" approximation


@dataclass(frozen=True)
class GaussianKernel:
    """Gaussian kernel ``exp(-(u - v)^2 / (2 sigma^2))`` on 1-D values."""

    sigma: float
    single_precision_cross: bool = False

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        v = np.asarray(v, dtype=float)
        gamma = 1.0 / (2.0 * self.sigma**2)
        if not self.single_precision_cross:
            out = np.subtract.outer(u, v)
            out *= out
            out *= -gamma
            return np.exp(out, out=out)
        # conditional_independence: exp(-γu² - γv² + sgemm(2γ, u, v)) with a float32 cross term.
        cross = np.float32(2.0 * gamma) * np.multiply.outer(
            u.astype(np.float32), v.astype(np.float32)
        )
        return np.exp((-gamma * u * u)[:, None] + (-gamma * v * v)[None, :] + cross.astype(float))

    shift = 1.0
    """The constant :meth:`shifted` takes off (centred sums do not depend on it)."""

    def shifted(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """K(u, v) − 1, without rounding K first (``expm1``): on a nearly flat kernel (values
        all near 1) the blockwise centred sums are differences of n²-sized terms, which lost
        every digit; shifted, the terms are as small as the kernel's variation."""
        if self.single_precision_cross:  # K's own rounding is the reference's; K − 1 is exact
            out = self(u, v)
            out -= 1.0  # in place: this runs on every block of the pass
            return out
        out = np.subtract.outer(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
        out *= out
        out *= -1.0 / (2.0 * self.sigma**2)
        return np.expm1(out, out=out)


@dataclass(frozen=True)
class DeltaKernel:
    """``k(u, v) = 1 if u == v else 0``: the kernel for nominal categories, whose integer codes
    carry no order (a Gaussian kernel on codes would make alphabetically adjacent categories
    "similar")."""

    sigma: float = math.nan  # no width; present so results can report one field for both

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.equal.outer(np.asarray(u, dtype=float), np.asarray(v, dtype=float)).astype(float)

    shift = 0.0  # a 0/1 kernel is never flat: nothing to take off

    def shifted(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self(u, v)


Kernel = GaussianKernel | DeltaKernel


KERNEL_RANGE = (1e-100, 1e100)
"""Largest |value| a column may have for the kernel tests (exclusive bounds). Squared
distances and kernel widths (``sigma**2``) of values near 1e155 overflow, and near 1e-155
underflow to 0; inside this range every sum of squares over any realistic n stays finite."""


def kernel_range_problem(values: np.ndarray, where: str = "") -> str | None:
    """Why ``values`` cannot enter a kernel test (magnitude outside :data:`KERNEL_RANGE`), or
    None. The one check behind the CLI's exit 2 and the Python tests' invalid result."""
    present = np.abs(np.asarray(values, dtype=float))
    present = present[np.isfinite(present)]
    largest = float(present.max()) if present.size else 0.0
    low, high = KERNEL_RANGE
    if largest >= high or 0 < largest <= low:
        return (
            f"the largest magnitude{where} is {largest:.3g}; the kernel tests need it between "
            f"{low:g} and {high:g}, so rescale the column (e.g. change its unit)"
        )
    return None


def check_kernel_range(values: np.ndarray, name: str, source: str = "table") -> None:
    """BadInput naming the column when its magnitude is outside :data:`KERNEL_RANGE`."""
    problem = kernel_range_problem(values, f" in column '{name}'")
    if problem is not None:
        raise BadInput(f"{source}: {problem}.")


def paper_kci_sigma(n: int) -> float:
    """causal-learn's ``set_width_empirical_hsic`` for one z-scored dimension: 0.8 / 0.5 / 0.3."""
    if n < 200:
        return 0.8
    if n < 1200:
        return 0.5
    return 0.3


def sample_std(values: np.ndarray, counts: np.ndarray) -> float:
    """Standard deviation with ddof=1 of the data given as distinct values and counts."""
    n = counts.sum()
    if n < 2:
        return 0.0
    mean = values @ counts / n
    return float(math.sqrt(max(((values - mean) ** 2) @ counts / (n - 1), 0.0)))


def median_sigma(values: np.ndarray, counts: np.ndarray) -> float:
    """Median of the non-zero pairwise distances |x_i - x_j| over all pairs of rows.

    Exact (no subsampling) and O(k log k) per bisection step on the k distinct values, so it
    costs nothing for discrete variables. Returns 1.0 when every value is equal.
    """
    u = np.asarray(values, dtype=float)
    w = np.asarray(counts, dtype=float)
    order = np.argsort(u)
    u, w = u[order], w[order]
    if u.size < 2:
        return 1.0
    cum = np.concatenate([[0.0], np.cumsum(w)])
    total = (w.sum() ** 2 - (w**2).sum()) / 2.0  # pairs of rows with different values

    def pairs_within(d: float) -> float:
        # weighted number of pairs (a < b) with 0 < u_b - u_a <= d
        hi = np.searchsorted(u, u + d, side="right")
        return float(w @ (cum[hi] - cum[np.arange(u.size) + 1]))

    if u.size <= 512:  # exact, with numpy's median convention (mean of the two middle values)
        i, j = np.triu_indices(u.size, k=1)
        dist, weight = u[j] - u[i], w[i] * w[j]
        order = np.argsort(dist, kind="stable")
        dist, cum_weight = dist[order], np.cumsum(weight[order])
        middle = [(total + 1) / 2] if total % 2 else [total / 2, total / 2 + 1]
        at = np.minimum(np.searchsorted(cum_weight, middle), dist.size - 1)
        return float(dist[at].mean())
    lo, hi = 0.0, float(u[-1] - u[0])
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi or hi - lo <= 1e-12 * hi:
            break
        if pairs_within(mid) >= total / 2.0:
            hi = mid
        else:
            lo = mid
    return hi if hi > 0 else 1.0


@dataclass(frozen=True)
class Factorised:
    """A variable as its sorted distinct ``values`` and the ``codes`` of each row (-1 = missing)."""

    values: np.ndarray
    codes: np.ndarray

    @cached_property
    def counts(self) -> np.ndarray:
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=self.values.size).astype(float)

    @property
    def data(self) -> np.ndarray:
        return self.values[self.codes]


def factorise(x: np.ndarray) -> Factorised:
    """Distinct values and row codes of ``x``; NaN / inf rows get code -1 (computed once per
    column, then :func:`complete_pairs` restricts it to any pair's rows in O(n + k))."""
    x = np.asarray(x, dtype=float).reshape(-1)
    finite = np.isfinite(x)
    codes = np.full(x.size, -1, dtype=np.int64)
    values, inverse = np.unique(x[finite], return_inverse=True)
    codes[finite] = inverse.reshape(-1)
    return Factorised(values=values, codes=codes)


def _compact(values: np.ndarray, codes: np.ndarray) -> Factorised:
    present = np.bincount(codes, minlength=values.size) > 0
    if present.all():
        return Factorised(values=values, codes=codes)
    remap = np.cumsum(present) - 1
    return Factorised(values=values[present], codes=remap[codes])


def complete_pairs(fx: Factorised, fy: Factorised) -> tuple[Factorised, Factorised]:
    """Both variables restricted to the rows where both are present (distinct values re-indexed)."""
    if fx.codes.shape != fy.codes.shape:
        raise ValueError(f"x and y differ in length ({fx.codes.size} vs {fy.codes.size}).")
    keep = (fx.codes >= 0) & (fy.codes >= 0)
    return _compact(fx.values, fx.codes[keep]), _compact(fy.values, fy.codes[keep])


@dataclass(frozen=True)
class CentredGramSums:
    """Sums over the centred Gram matrices Kxc = H Kx H and Kyc = H Ky H of one pair.

    ``cross`` = Σ Kxc∘Kyc = tr(Kxc Kyc); ``trace_*`` = tr(K*c); ``frob_*`` = Σ K*c²;
    ``offdiag_*`` = Σ_{i≠j} K* (uncentred); ``fourth`` = Σ_{i≠j} (Kxc∘Kyc)² (NaN unless asked).
    """

    n: int
    cross: float
    trace_x: float
    trace_y: float
    frob_x: float
    frob_y: float
    offdiag_x: float
    offdiag_y: float
    fourth: float = math.nan


def _centre(
    gram: np.ndarray, weights: np.ndarray, n: float
) -> tuple[np.ndarray, np.ndarray, float]:
    # Row means of K = P A Pᵀ are (A p / n)[code]; centring by means, never by H·K·H products.
    row_mean = gram @ weights / n
    grand = float(weights @ row_mean / n)
    return gram - row_mean[:, None] - row_mean[None, :] + grand, row_mean, grand


def _block_rows(k: int, width: int) -> int:
    return max(1, min(k, BLOCK_BYTES // (8 * max(width, 1))))


def _sums_factorised(
    fx: Factorised, fy: Factorised, kx: Kernel, ky: Kernel, fourth: bool
) -> CentredGramSums:
    """x has few distinct values; y has any number (dense up to DENSE_LIMIT, else blockwise)."""
    n = fx.codes.size
    table = np.bincount(
        fx.codes * fy.values.size + fy.codes, minlength=fx.values.size * fy.values.size
    )
    table = table.reshape(fx.values.size, fy.values.size).astype(float)
    p, q = table.sum(axis=1), table.sum(axis=0)

    a = kx(fx.values, fx.values)
    cx, _, _ = _centre(a, p, n)
    offdiag_x = float(p @ a @ p - p @ np.diag(a))

    ly = fy.values.size
    if ly <= DENSE_LIMIT:
        b = ky(fy.values, fy.values)
        cy, _, _ = _centre(b, q, n)
        table_cy = table @ cy
        diag_cy = np.diag(cy).copy()
        frob_y = float(q @ (cy * cy) @ q)
        offdiag_y = float(q @ b @ q - q @ np.diag(b))
        table_cy2 = table @ (cy * cy) if fourth else None
    else:
        products = _blockwise_products(
            table[None], q[:, None], np.array([n]), ky, fy.values, fourth
        )
        table_cy, table_cy2, diag_cy, frob_y, offdiag_y = _y_side(table, p, q, n, *products[0])

    return _combine(
        table, p, q, n, cx, offdiag_x, table_cy, table_cy2, diag_cy, frob_y, offdiag_y, fourth
    )


def _blockwise_products(
    tables: Sequence[np.ndarray],
    qs: np.ndarray,
    ns: np.ndarray,
    ky: Kernel,
    uy: np.ndarray,
    fourth: bool,
) -> list[tuple]:
    """One blockwise pass over the rows of B (the kernel between y's distinct values) shared by
    several pairs with the same y: per pair t, r = B q_t / n_t, diag B, N_t B, qᵀ(B∘B)q and,
    for the fourth moment, N_t (B∘B) and N_t diag(r) B (a second pass, since it needs r)."""
    ly = uy.size
    stacked = np.vstack(tables)  # Σk × l
    bounds = np.cumsum([0] + [t.shape[0] for t in tables])
    step = _block_rows(ly, ly)
    r = np.empty((ly, len(tables)))
    diag_b = np.empty(ly)
    table_b = np.empty(stacked.shape)
    table_b2 = np.empty(stacked.shape) if fourth else None
    q_b2_q = np.zeros(len(tables))
    for s in range(0, ly, step):
        # Rows s.. of B − shift (B is symmetric): every product below is of B − shift, which
        # leaves the centred ones unchanged and keeps their digits (GaussianKernel.shifted).
        block = ky.shifted(uy[s : s + step], uy)
        r[s : s + step] = block @ qs
        diag_b[s : s + step] = np.diagonal(block, offset=s)
        table_b[:, s : s + step] = stacked @ block.T
        block *= block
        q_b2_q += np.sum(qs[s : s + step] * (block @ qs), axis=0)
        if fourth:
            table_b2[:, s : s + step] = stacked @ block.T
    r /= ns[None, :]
    table_rb = None
    if fourth:
        owner = np.repeat(np.arange(len(tables)), np.diff(bounds))
        weighted = stacked * r.T[owner]
        table_rb = np.empty(stacked.shape)
        for s in range(0, ly, step):
            table_rb[:, s : s + step] = weighted @ ky.shifted(uy[s : s + step], uy).T
    out = []
    for t in range(len(tables)):
        rows = slice(bounds[t], bounds[t + 1])
        out.append(
            (
                r[:, t],
                diag_b,
                table_b[rows],
                table_b2[rows] if fourth else None,
                table_rb[rows] if fourth else None,
                float(q_b2_q[t]),
                ky.shift,
            )
        )
    return out


def _y_side(
    table: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    n: float,
    r: np.ndarray,
    diag_b: np.ndarray,
    table_b: np.ndarray,
    table_b2: np.ndarray | None,
    table_rb: np.ndarray | None,
    q_b2_q: float,
    shift: float = 0.0,
) -> tuple:
    """N·Cy, N·(Cy∘Cy), diag Cy, ‖Kyc‖², Σ_{i≠j} Ky from products with B, never forming Cy
    (Cy = B - r1ᵀ - 1rᵀ + m with r = Bq/n, m = qᵀr/n, expanded term by term). B may be the
    kernel minus ``shift``: Cy is the same, and Σ_{i≠j} Ky gets shift·(n² − n) back."""
    grand = float(q @ r / n)
    table_r = table @ r
    offdiag_y = float(n * (q @ r) - q @ diag_b) + shift * (n * n - n)
    frob_y = q_b2_q - 2 * n * float(q @ (r * r)) + n * n * grand**2
    table_cy = table_b - table_r[:, None] - np.outer(p, r) + grand * p[:, None]
    diag_cy = diag_b - 2.0 * r + grand
    table_cy2 = None
    if table_b2 is not None:
        table_cy2 = (
            table_b2
            + (table @ (r * r))[:, None]
            + np.outer(p, r * r + grand**2)
            - 2 * table_rb
            - 2 * table_b * r[None, :]
            + 2 * grand * table_b
            + 2 * np.outer(table_r, r)
            - 2 * grand * table_r[:, None]
            - 2 * grand * np.outer(p, r)
        )
    return table_cy, table_cy2, diag_cy, frob_y, offdiag_y


def _combine(
    table, p, q, n, cx, offdiag_x, table_cy, table_cy2, diag_cy, frob_y, offdiag_y, fourth
) -> CentredGramSums:
    cross = float(np.sum(table * (cx @ table_cy)))
    four = math.nan
    if fourth:
        four = float(np.sum(table * ((cx * cx) @ table_cy2)))
        four -= float(np.sum(table * np.outer(np.diag(cx) ** 2, diag_cy**2)))
    return CentredGramSums(
        n=int(n),
        cross=cross,
        trace_x=float(p @ np.diag(cx)),
        trace_y=float(q @ diag_cy),
        frob_x=float(p @ (cx * cx) @ p),
        frob_y=frob_y,
        offdiag_x=offdiag_x,
        offdiag_y=offdiag_y,
        fourth=four,
    )


def centred_gram_sums_shared_y(
    xs: Sequence[Factorised],
    fy: Factorised,
    kernels_x: Sequence[Kernel],
    ky: Kernel,
    *,
    fourth: bool,
) -> list[CentredGramSums]:
    """Exact sums for many pairs (x_t, y) sharing a many-valued y: one blockwise pass over y's
    kernel serves all of them. ``xs`` and ``fy`` are full-length columns (code -1 = missing);
    each pair uses its complete rows. Every x_t must have few distinct values."""
    tables, pieces = [], []
    for fx_full in xs:
        keep = (fx_full.codes >= 0) & (fy.codes >= 0)
        fx = _compact(fx_full.values, fx_full.codes[keep])
        codes_y = fy.codes[keep]
        table = (
            np.bincount(
                fx.codes * fy.values.size + codes_y, minlength=fx.values.size * fy.values.size
            )
            .reshape(fx.values.size, fy.values.size)
            .astype(float)
        )
        tables.append(table)
        pieces.append(fx)
    qs = np.column_stack([t.sum(axis=0) for t in tables])
    ns = np.array([max(t.sum(), 1.0) for t in tables])
    products = _blockwise_products(tables, qs, ns, ky, fy.values, fourth)
    out = []
    for table, fx, kx, prod, n in zip(tables, pieces, kernels_x, products, ns, strict=True):
        p, q = table.sum(axis=1), table.sum(axis=0)
        a = kx(fx.values, fx.values)
        cx, _, _ = _centre(a, p, n)
        offdiag_x = float(p @ a @ p - p @ np.diag(a))
        y_side = _y_side(table, p, q, n, *prod)
        out.append(_combine(table, p, q, n, cx, offdiag_x, *y_side, fourth))
    return out


def _sums_rowwise(
    x: np.ndarray, y: np.ndarray, kx: Kernel, ky: Kernel, fourth: bool
) -> CentredGramSums:
    """Both variables continuous: exact, blockwise over rows, O(n²) time and O(n·block) memory."""
    n = x.size
    step = _block_rows(n, 2 * n)
    mean_x, mean_y = np.empty(n), np.empty(n)
    diag_x, diag_y = np.empty(n), np.empty(n)
    for s in range(0, n, step):
        bx, by = kx(x[s : s + step], x), ky(y[s : s + step], y)
        mean_x[s : s + step], mean_y[s : s + step] = bx.mean(axis=1), by.mean(axis=1)
        diag_x[s : s + step] = np.diagonal(bx, offset=s)
        diag_y[s : s + step] = np.diagonal(by, offset=s)
    grand_x, grand_y = mean_x.mean(), mean_y.mean()
    cross = frob_x = frob_y = four = 0.0
    for s in range(0, n, step):
        bx = kx(x[s : s + step], x) - mean_x[s : s + step, None] - mean_x[None, :] + grand_x
        by = ky(y[s : s + step], y) - mean_y[s : s + step, None] - mean_y[None, :] + grand_y
        prod = bx * by
        cross += float(prod.sum())
        frob_x += float(np.sum(bx * bx))
        frob_y += float(np.sum(by * by))
        if fourth:
            four += float(np.sum(prod * prod) - np.sum(np.diagonal(prod, offset=s) ** 2))
    cdiag_x = diag_x - 2 * mean_x + grand_x
    cdiag_y = diag_y - 2 * mean_y + grand_y
    return CentredGramSums(
        n=n,
        cross=cross,
        trace_x=float(cdiag_x.sum()),
        trace_y=float(cdiag_y.sum()),
        frob_x=frob_x,
        frob_y=frob_y,
        offdiag_x=float(n * n * grand_x - diag_x.sum()),
        offdiag_y=float(n * n * grand_y - diag_y.sum()),
        fourth=four if fourth else math.nan,
    )


def centred_gram_sums(
    fx: Factorised,
    fy: Factorised,
    kernel_x: Kernel,
    kernel_y: Kernel,
    *,
    fourth: bool = False,
    approx: str | None = None,
) -> CentredGramSums:
    """All sums KCI/HSIC need for a pair given as complete factorised variables (no code -1).

    Cost: O(n + k·l·(k + l)) when the smaller side has k ≤ SMALL_SIDE distinct values and the
    other l ≤ DENSE_LIMIT; blockwise O(k·l²) with bounded memory for larger l; blockwise
    O(n²) time and O(n) memory when both sides have many distinct values. ``approx="grid"``
    (opt-in) snaps many-valued sides to GRID_SIZE bins in the two costly cases
    (see :func:`quantise` and :func:`needs_approximation`).
    """
    if approx not in APPROXIMATIONS:
        raise ValueError(f"unknown approximation {approx!r}; use one of {APPROXIMATIONS}.")
    if approx == "grid" and needs_approximation(fx, fy):
        fx, fy = quantise(fx, GRID_SIZE), quantise(fy, GRID_SIZE)
    if min(fx.values.size, fy.values.size) > SMALL_SIDE:
        return _sums_rowwise(fx.data, fy.data, kernel_x, kernel_y, fourth)
    if fx.values.size <= fy.values.size:
        return _sums_factorised(fx, fy, kernel_x, kernel_y, fourth)
    s = _sums_factorised(fy, fx, kernel_y, kernel_x, fourth)
    return CentredGramSums(
        n=s.n,
        cross=s.cross,
        trace_x=s.trace_y,
        trace_y=s.trace_x,
        frob_x=s.frob_y,
        frob_y=s.frob_x,
        offdiag_x=s.offdiag_y,
        offdiag_y=s.offdiag_x,
        fourth=s.fourth,
    )


def quantise(f: Factorised, size: int) -> Factorised:
    """Snap a many-valued variable to ``size`` equal-width bins, each value replaced by the mean
    of its bin — the opt-in "grid" approximation for continuous × continuous pairs. The kernel
    error per entry is bounded by the bin width relative to the kernel width."""
    if f.values.size <= size:
        return f
    lo, hi = f.values[0], f.values[-1]
    bins = np.minimum(((f.values - lo) / (hi - lo) * size).astype(np.int64), size - 1)
    weight = np.bincount(bins, weights=f.counts, minlength=size)
    total = np.bincount(bins, weights=f.values * f.counts, minlength=size)
    used = weight > 0
    remap = np.cumsum(used) - 1
    return Factorised(values=total[used] / weight[used], codes=remap[bins][f.codes])


def needs_approximation(fx: Factorised, fy: Factorised) -> bool:
    """True where the exact route costs O(n²)-like time: both sides have many distinct values,
    or one side has more than DENSE_LIMIT (evaluated blockwise)."""
    sizes = sorted((fx.values.size, fy.values.size))
    return sizes[0] > SMALL_SIDE or sizes[1] > DENSE_LIMIT


def as_factorised_pair(x: object, y: object) -> tuple[Factorised, Factorised]:
    """Accept arrays or already factorised columns; return the complete-rows pair."""
    fx, fy, _, _ = labelled_pair(x, y)
    return fx, fy


def labelled_pair(
    x: object, y: object, nominal_x: bool = False, nominal_y: bool = False
) -> tuple[Factorised, Factorised, bool, bool]:
    """:func:`as_factorised_pair`, and whether each side is nominal: given so, or text labels
    (categories without order, as the CLI treats a text column)."""
    sides = []
    for values, name, nominal in ((x, "x", nominal_x), (y, "y", nominal_y)):
        if isinstance(values, Factorised):
            sides.append((values, nominal))
        else:
            floats, labels = _as_float_or_labels(values, name)
            sides.append((factorise(floats), nominal or labels))
    fx, fy = complete_pairs(sides[0][0], sides[1][0])
    return fx, fy, sides[0][1], sides[1][1]


def check_widths(**widths: float | None) -> None:
    """BadInput for a kernel width given but not a positive finite number: 0 silently fell back
    on the median heuristic, a negative width was used as given, NaN gave p = NaN."""
    for name, width in widths.items():
        if width is None:
            continue
        real = isinstance(width, numbers.Real) and not isinstance(width, bool)
        if not (real and math.isfinite(width) and width > 0):
            raise BadInput(f"{name} must be a positive number (a kernel width), got {width!r}.")


def _as_float_or_labels(values: object, name: str) -> tuple[np.ndarray, bool]:
    """``values`` as a 1-D float array, and whether they were text labels (then the codes of
    :func:`_label_codes`). A 2-D array was flattened into one long variable (a plausible
    p-value with the wrong n); complex numbers lost their imaginary part and a NaT became
    -9.2e18, both silently."""
    kind = getattr(getattr(values, "dtype", None), "kind", "")
    if kind in ("c", "m", "M"):
        raise BadInput(f"{name} must be real numbers, got dtype {values.dtype}.")
    labels = _holds_text(values)
    if labels:
        floats = _label_codes(values, name)
    else:
        try:
            floats = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            floats, labels = _label_codes(values, name), True
    if floats.ndim == 2 and floats.shape[1] == 1:
        floats = floats[:, 0]
    if floats.ndim != 1:
        raise BadInput(f"{name} must be a 1-D array of numbers, got shape {floats.shape}.")
    return floats, labels


def _holds_text(values: object) -> bool:
    """Are ``values`` labels by their type, as the CLI decides for a column (not numeric →
    categories)? Text arrays, pandas string and category columns, and object arrays holding
    any text are; numbers stay numbers. Converting first would read labels that all look like
    numbers ("1", "2", "10") as numbers, with another kernel and another p-value than the CLI's."""
    import pandas as pd

    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
        return True
    if dtype is not None and dtype.kind in "US":
        return True
    if dtype is not None and dtype.kind != "O":
        return False
    items = np.asarray(values, dtype=object).ravel()
    return any(isinstance(v, str) for v in items)


def _label_codes(values: object, name: str) -> np.ndarray:
    """Text labels (a categorical attribute such as a league) coded as the CLI codes a text
    column (``data.table.category_codes``, after its stray-text check), so
    ``chisq(df.final_o, df.league)`` gives the CLI's p-value."""
    import pandas as pd

    from personax.data.table import category_codes, refuse_stray_text

    labels = np.asarray(values, dtype=object)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise BadInput(
            f"{name} must be a 1-D array of numbers or labels, got shape {labels.shape}."
        )
    series = pd.Series(labels)
    # None, NaN, pd.NA (a pandas string column's missing cell) are missing; other non-text
    # values (a True among the labels) would be coded as one more category. A category column
    # declares its values labels, whatever their type (the CLI codes it so).
    categorical = isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)
    odd = next((v for v in series.dropna() if not isinstance(v, str)), None)
    if odd is not None and not categorical:
        raise BadInput(
            f"{name} must be numbers or text labels, but holds {odd!r} ({type(odd).__name__}) "
            "among the text labels."
        )
    refuse_stray_text(series, name, "input", "fix or drop it.")
    return category_codes(series)[0]


def contingency(fx: Factorised, fy: Factorised) -> np.ndarray:
    """Counts of every (x value, y value) combination of a complete pair."""
    flat = np.bincount(
        fx.codes * fy.values.size + fy.codes, minlength=fx.values.size * fy.values.size
    )
    return flat.reshape(fx.values.size, fy.values.size).astype(float)


def gamma_sf(statistic: float, shape: float, scale: float) -> float:
    """P(G > statistic) for G ~ Gamma(shape, scale); NaN when the parameters are undefined."""
    if not (np.isfinite(shape) and np.isfinite(scale)) or shape <= 0 or scale <= 0:
        return math.nan
    return float(special.gammaincc(shape, max(statistic, 0.0) / scale))


def approximation_note(fx: Factorised, fy: Factorised, approx: str | None) -> str:
    """The note a result carries when the opt-in grid approximation was used for it."""
    if approx == "grid" and needs_approximation(fx, fy):
        return f"approximate: many-valued variables snapped to {GRID_SIZE} bins (--approx grid)"
    return ""


def kernel_alignment(sums: CentredGramSums) -> float:
    """Normalised HSIC (centred kernel alignment) in [0, 1]: tr(KxcKyc)/(‖Kxc‖‖Kyc‖)."""
    denom = math.sqrt(max(sums.frob_x, 0.0) * max(sums.frob_y, 0.0))
    return sums.cross / denom if denom > 0 else math.nan


def gamma_null_result(
    test: str,
    statistic: float,
    mean: float,
    var: float,
    *,
    n: int,
    sums: CentredGramSums,
    sigmas: tuple[float, float],
    width_rule: str,
    note: str,
) -> TestResult:
    """KCI and HSIC share this: a gamma null matched to (mean, var) of the statistic."""
    shape, scale = (mean**2 / var, var / mean) if var > 0 and mean > 0 else (math.nan, math.nan)
    return TestResult(
        test=test,
        statistic=statistic,
        p_value=gamma_sf(statistic, shape, scale),
        n=n,
        null="gamma",
        params={
            "sigma_x": sigmas[0],
            "sigma_y": sigmas[1],
            "width_rule": width_rule,
            "gamma_shape": float(shape),
            "gamma_scale": float(scale),
        },
        effect_size=kernel_alignment(sums),
        note=note,
    )
