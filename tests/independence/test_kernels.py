"""The factorised sums equal brute-force n×n computations (property test)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.independence import kernels
from personax.independence.kernels import (
    DeltaKernel,
    GaussianKernel,
    centred_gram_sums,
    centred_gram_sums_shared_y,
    complete_pairs,
    factorise,
    median_sigma,
)


def _brute(x, y, kx, ky):
    n = x.size
    h = np.eye(n) - 1.0 / n
    gx, gy = kx(x, x), ky(y, y)
    cx, cy = h @ gx @ h, h @ gy @ h
    prod = cx * cy
    return {
        "cross": np.sum(prod),
        "trace_x": np.trace(cx),
        "trace_y": np.trace(cy),
        "frob_x": np.sum(cx * cx),
        "frob_y": np.sum(cy * cy),
        "offdiag_x": gx.sum() - np.trace(gx),
        "offdiag_y": gy.sum() - np.trace(gy),
        "fourth": np.sum(prod**2) - np.sum(np.diag(prod) ** 2),
    }


levels = st.lists(st.sampled_from([1.0, 1.5, 2.0, 2.5, 3.0, np.nan]), min_size=8, max_size=40)


@settings(max_examples=40, deadline=None)
@given(
    x=levels,
    seed=st.integers(0, 10_000),
    many_valued=st.booleans(),
    kind=st.sampled_from(["gauss", "delta", "float32"]),
    blockwise=st.booleans(),
)
def test_factorised_sums_equal_brute_force(x, seed, many_valued, kind, blockwise) -> None:
    rng = np.random.default_rng(seed)
    x = np.array(x)
    y = rng.normal(size=x.size) if many_valued else rng.integers(0, 4, size=x.size).astype(float)
    y[rng.random(x.size) < 0.1] = np.nan
    fx, fy = complete_pairs(factorise(x), factorise(y))
    if fx.codes.size < 2:
        return
    kx = GaussianKernel(0.7, single_precision_cross=kind == "float32")
    ky = DeltaKernel() if kind == "delta" else GaussianKernel(1.3, kind == "float32")
    old = kernels.DENSE_LIMIT, kernels.BLOCK_BYTES
    if blockwise:
        kernels.DENSE_LIMIT, kernels.BLOCK_BYTES = 2, 8 * 3 * 40
    try:
        sums = centred_gram_sums(fx, fy, kx, ky, fourth=True)
        shared = centred_gram_sums_shared_y([factorise(x)], factorise(y), [kx], ky, fourth=True)[0]
    finally:
        kernels.DENSE_LIMIT, kernels.BLOCK_BYTES = old
    expected = _brute(fx.data, fy.data, kx, ky)
    for name, value in expected.items():
        assert getattr(sums, name) == pytest.approx(value, rel=1e-8, abs=1e-8), name
        assert getattr(shared, name) == pytest.approx(value, rel=1e-8, abs=1e-8), name


@pytest.mark.parametrize("spread", [1e-2, 1e-4])
@pytest.mark.parametrize("single_precision", [False, True])
def test_blockwise_sums_keep_their_digits_on_a_nearly_flat_kernel(
    monkeypatch, spread, single_precision
):
    # y varies far less than the kernel's width, so every kernel value is ≈ 1 and the
    # blockwise centred sums were differences of n²-sized terms: ‖Kyc‖² came out 100× off
    # (and HSIC's p NaN) at spread 1e-4. The blockwise route now sums K − 1.
    rng = np.random.default_rng(4)
    n = 300
    x = rng.integers(1, 4, n).astype(float)
    y = spread * (rng.random(n) + 0.002 * x)
    fx, fy = complete_pairs(factorise(x), factorise(y))
    kx = GaussianKernel(0.7, single_precision_cross=single_precision)
    ky = GaussianKernel(1 / np.sqrt(2), single_precision_cross=single_precision)
    dense = centred_gram_sums(fx, fy, kx, ky, fourth=True)
    monkeypatch.setattr(kernels, "DENSE_LIMIT", 2)
    monkeypatch.setattr(kernels, "BLOCK_BYTES", 8 * 3 * n)
    blockwise = centred_gram_sums(fx, fy, kx, ky, fourth=True)
    shared = centred_gram_sums_shared_y([factorise(x)], factorise(y), [kx], ky, fourth=True)[0]
    for name in ("cross", "trace_y", "frob_y", "offdiag_y", "fourth"):
        reference = getattr(dense, name)
        assert getattr(blockwise, name) == pytest.approx(reference, rel=1e-6), name
        assert getattr(shared, name) == pytest.approx(reference, rel=1e-6), name


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=2, max_size=30))
def test_median_sigma_matches_numpy(values) -> None:
    v = np.array(values, dtype=float)
    d = np.abs(np.subtract.outer(v, v))[np.triu_indices(v.size, k=1)]
    d = d[d > 0]
    f = factorise(v)
    expected = float(np.median(d)) if d.size else 1.0
    assert median_sigma(f.values, f.counts) == pytest.approx(expected)


def test_median_sigma_many_values_close_to_numpy() -> None:
    v = np.random.default_rng(0).normal(size=900)  # > 512 distinct values: the bisection route
    d = np.abs(np.subtract.outer(v, v))[np.triu_indices(v.size, k=1)]
    f = factorise(v)
    assert median_sigma(f.values, f.counts) == pytest.approx(float(np.median(d)), rel=1e-4)
