"""Conditional CI tests: agreement with causal-learn's Fisher-z, rough calibration, edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from personax.independence import kci, rcit
from personax.independence.conditional import fisherz, kci_ci, rcit_ci


def null_and_alternative(rng, n):
    z = rng.standard_normal(n)
    x = np.tanh(z) + 0.5 * rng.standard_normal(n)
    y = z**2 + 0.5 * rng.standard_normal(n)
    return x, y, y + 0.8 * x, z


def test_fisherz_matches_causallearn():
    cit = pytest.importorskip("causallearn.utils.cit")
    rng = np.random.default_rng(1)
    data = rng.standard_normal((300, 4))
    data[:, 1] += 0.3 * data[:, 0] + 0.5 * data[:, 2]
    data[:, 3] += data[:, 2]
    reference = cit.CIT(data, "fisherz")
    for x, y, cond in [(0, 1, ()), (0, 1, (2,)), (1, 3, (0, 2)), (0, 3, (1,))]:
        ours = fisherz(data[:, x], data[:, y], data[:, list(cond)] if cond else None)
        assert ours.p_value == pytest.approx(reference(x, y, cond), rel=1e-9, abs=1e-12)


def test_fisherz_calibrated_under_linear_null():
    rng = np.random.default_rng(2)
    rejections = 0
    for _ in range(300):
        z = rng.standard_normal(100)
        x = z + rng.standard_normal(100)
        y = z + rng.standard_normal(100)
        rejections += fisherz(x, y, z).p_value < 0.05
    assert 0.02 <= rejections / 300 <= 0.09


@pytest.mark.parametrize(
    "test, reps, n",
    [
        (lambda x, y, z, r: kci_ci(x, y, z), 30, 150),
        (lambda x, y, z, r: rcit_ci(x, y, z, seed=r), 60, 300),
    ],
    ids=["kci", "rcit"],
)
def test_kernel_tests_size_and_power(test, reps, n):
    rng = np.random.default_rng(3)
    size = power = 0
    for r in range(reps):
        x, y_null, y_alt, z = null_and_alternative(rng, n)
        size += test(x, y_null, z, r).p_value < 0.05
        power += test(x, y_alt, z, r).p_value < 0.05
    assert size / reps <= 0.17
    assert power / reps >= 0.8


def test_fisherz_misses_nonlinear_confounding_that_kci_handles():
    # z → x and z → y through non-monotone maps: partial *correlation* given z leaves a
    # dependence that only a nonlinear test explains away.
    rng = np.random.default_rng(4)
    z = rng.uniform(-2, 2, 300)
    x = z**2 + 0.3 * rng.standard_normal(300)
    y = z**2 + 0.3 * rng.standard_normal(300)
    assert fisherz(x, y, z).p_value < 0.01
    assert kci_ci(x, y, z).p_value > 0.01


def test_rcit_seeded():
    rng = np.random.default_rng(5)
    x, y, _, z = null_and_alternative(rng, 200)
    assert rcit_ci(x, y, z, seed=7).p_value == rcit_ci(x, y, z, seed=7).p_value
    assert rcit_ci(x, y, z, seed=[7, 1, 2]).p_value == rcit_ci(x, y, z, seed=[7, 1, 2]).p_value


def test_unconditional_cases_delegate_to_level_one_tests():
    rng = np.random.default_rng(6)
    x, y, _, _ = null_and_alternative(rng, 200)
    assert kci_ci(x, y).p_value == kci(x, y).p_value
    assert rcit_ci(x, y, seed=3).p_value == rcit(x, y, seed=3).p_value


def test_missing_rows_dropped_and_too_few_rows_give_nan():
    rng = np.random.default_rng(7)
    x, y, _, z = null_and_alternative(rng, 100)
    x_nan = x.copy()
    x_nan[:10] = np.nan
    assert fisherz(x_nan, y, z).n == 90
    assert fisherz(x_nan, y, z).p_value == pytest.approx(fisherz(x[10:], y[10:], z[10:]).p_value)
    for test in (fisherz, kci_ci, rcit_ci):
        result = test(x[:4], y[:4], z[:4])
        assert math.isnan(result.p_value) and "fewer than" in result.note


def test_constant_column_gives_nan_not_exception():
    rng = np.random.default_rng(8)
    z = rng.standard_normal(50)
    assert math.isnan(fisherz(np.ones(50), z + 1, z).p_value)
    assert math.isnan(kci_ci(np.ones(50), z + 1, z).p_value)


def test_low_rank_kci_agrees_with_the_exact_computation(monkeypatch):
    import personax.independence.conditional as conditional

    rng = np.random.default_rng(9)
    n = 300
    z = rng.standard_normal((n, 2))
    x = np.tanh(z[:, 0]) + 0.5 * rng.standard_normal(n)
    y = z[:, 1] ** 2 + z[:, 0] + 0.5 * rng.standard_normal(n) + 0.15 * x
    fast = kci_ci(x, y, z)
    monkeypatch.setattr(conditional, "LOW_RANK_TOL", 0.0)
    monkeypatch.setattr(conditional, "LOW_RANK_MAX", n)
    exact = kci_ci(x, y, z)
    assert fast.statistic == pytest.approx(exact.statistic, rel=1e-3)
    assert fast.p_value == pytest.approx(exact.p_value, rel=1e-2, abs=1e-4)


def test_low_rank_kci_uses_the_exact_kernel_when_the_factor_would_be_cut_short(monkeypatch):
    # A factor stopped at LOW_RANK_MAX columns before reaching LOW_RANK_TOL moved p-values
    # by up to 170% (review, n = 1,500); such a kernel must be used exact.
    import personax.independence.conditional as conditional

    rng = np.random.default_rng(10)
    n = 300
    z = rng.standard_normal((n, 4))
    x = z.sum(axis=1) + rng.standard_normal(n)
    y = np.sin(z[:, 0]) + z[:, 1] + 0.05 * x + rng.standard_normal(n)
    monkeypatch.setattr(conditional, "LOW_RANK_MAX", 10)
    assert conditional._low_rank_features(z, 1.0, conditional.LOW_RANK_TOL, 10) is None
    capped = kci_ci(x, y, z)
    monkeypatch.setattr(conditional, "LOW_RANK_TOL", 0.0)
    monkeypatch.setattr(conditional, "LOW_RANK_MAX", n)
    exact = kci_ci(x, y, z)
    assert capped.statistic == pytest.approx(exact.statistic, rel=1e-9)
    assert capped.p_value == pytest.approx(exact.p_value, rel=1e-9)


def test_rcit_ci_takes_a_numpy_integer_seed_as_the_same_seed():
    rng = np.random.default_rng(11)
    z = rng.standard_normal(200)
    x, y = z + rng.standard_normal(200), z + rng.standard_normal(200)
    for conditioning in (None, z):
        plain = rcit_ci(x, y, conditioning, seed=5)
        numpy_seed = rcit_ci(x, y, conditioning, seed=np.int64(5))
        assert numpy_seed.p_value == plain.p_value
        assert numpy_seed.statistic == plain.statistic
