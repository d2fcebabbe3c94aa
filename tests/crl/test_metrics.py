from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.crl.metrics import (
    abs_correlations,
    block_mcc,
    graph_scores,
    kernel_r2_scores,
    mcc,
    mcc_ceiling,
    r2_kernel,
    recovery_by_block,
    shd,
)
from personax.errors import BadInput


def _latents(n=500, dims=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dims))


@settings(max_examples=25, deadline=None)
@given(
    perm_seed=st.integers(0, 10_000),
    scales=st.lists(
        st.floats(0.01, 100.0).flatmap(lambda v: st.sampled_from([v, -v])), min_size=4, max_size=4
    ),
)
def test_mcc_one_for_permuted_rescaled(perm_seed, scales):
    true = _latents()
    perm = np.random.default_rng(perm_seed).permutation(4)
    est = true[:, perm] * np.array(scales) + 7.0
    result = mcc(true, est)
    assert result.value == pytest.approx(1.0, abs=1e-9)
    # the matching recovers the permutation
    assert {(int(i), int(j)) for i, j in result.matching} == {(int(perm[j]), j) for j in range(4)}


def test_spearman_invariant_to_monotone_maps():
    true = _latents()
    est = np.column_stack([np.exp(true[:, 2]), -(true[:, 0] ** 3), np.tanh(true[:, 3]), true[:, 1]])
    assert mcc(true, est, method="spearman").value == pytest.approx(1.0, abs=1e-12)
    assert mcc(true, est, method="pearson").value < 0.97


def test_mcc_near_zero_for_independent_noise():
    true, noise = _latents(n=5000, seed=1), _latents(n=5000, seed=2)
    assert mcc(true, noise).value < 0.05


def test_mcc_zero_variance_latent_gives_zero_not_nan():
    true = _latents()
    est = true.copy()
    est[:, 1] = 3.0
    result = mcc(true, est)
    assert np.isfinite(result.correlations).all()
    assert result.value == pytest.approx(0.75, abs=1e-9)
    constant = np.full((500, 4), 2.0)
    assert mcc(constant, est).value == 0.0


def test_a_latent_far_from_zero_is_not_read_as_constant():
    # with an offset 1e12 times its spread it scored 0 (np.corrcoef: 0.9999999993)
    true = _latents()
    assert mcc(true + 1e12, true).value == pytest.approx(1.0, abs=1e-6)
    assert mcc(true, true * 1e-3 - 5e9).value == pytest.approx(1.0, abs=1e-4)  # 3 digits left
    # a constant up to the mean's rounding still counts as constant
    nearly = np.full((100_000, 4), 0.1) + np.finfo(float).eps * (np.arange(100_000) % 2)[:, None]
    assert mcc(nearly, _latents(n=100_000)).value == 0.0


def test_mcc_unequal_latent_counts_match_the_smaller_side():
    true = _latents(dims=4)
    # Two of four true latents found exactly: the two without a partner count 0.
    fewer = mcc(true, true[:, [3, 1]] * 2)
    assert fewer.value == pytest.approx(0.5) and len(fewer.matching) == 2
    assert sorted(fewer.matching[:, 0]) == [1, 3]
    assert fewer.matched == pytest.approx([1.0, 1.0])
    more = mcc(true[:, :2], np.column_stack([_latents(seed=5), true[:, :2]]))
    assert more.value == pytest.approx(1.0) and sorted(more.matching[:, 1]) == [4, 5]


def test_mcc_bad_inputs():
    with pytest.raises(BadInput, match="rows"):
        mcc(_latents(n=10), _latents(n=9))
    bad = _latents(n=10)
    bad[3, 0] = np.nan
    with pytest.raises(BadInput, match="row 3"):
        mcc(bad, _latents(n=10))
    with pytest.raises(BadInput, match="method"):
        abs_correlations(_latents(), _latents(), method="kendall")


def test_block_mcc():
    true = _latents()
    est = np.column_stack([true[:, 1], true[:, 0], _latents(seed=9)[:, :2]])
    blocks = block_mcc(true, est, {"a": [0, 1], "b": [2, 3]}, {"a": [0, 1], "b": [2, 3]})
    assert blocks["a"].value == pytest.approx(1.0)
    assert blocks["b"].value < 0.2


def _split(x, y, n_train):
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def test_r2_high_for_invertible_nonlinear_map():
    true = np.random.default_rng(0).uniform(-2, 2, (900, 2))
    est = np.column_stack([np.tanh(true[:, 1]) + 0.3 * true[:, 0], true[:, 0] ** 3])
    value = r2_kernel(*_split(est, true, 600), seed=0)
    assert value > 0.9


def test_r2_is_out_of_sample_memorised_noise_scores_low():
    # Unique random inputs let a kernel model memorise the training targets (in-sample R² is
    # high), but nothing carries over to new rows: the held-out R² must stay near 0.
    rng = np.random.default_rng(1)
    est, true = rng.standard_normal((800, 6)), rng.standard_normal((800, 3))
    raw = kernel_r2_scores(*_split(est, true, 500), seed=0)
    assert raw.max() < 0.1
    assert r2_kernel(*_split(est, true, 500), seed=0) < 0.1


def test_r2_deterministic_and_constant_targets():
    rng = np.random.default_rng(2)
    est = rng.standard_normal((300, 2))
    true = np.column_stack([est[:, 0] ** 2, np.ones(300)])
    a = kernel_r2_scores(*_split(est, true, 200), seed=4)
    b = kernel_r2_scores(*_split(est, true, 200), seed=4)
    np.testing.assert_array_equal(a, b)
    assert a[1] == 0.0 and a[0] > 0.8


def test_r2_bad_shapes():
    x = _latents(n=50)
    with pytest.raises(BadInput, match="same columns"):
        r2_kernel(x[:30], x[:30], x[30:, :2], x[30:])


def test_shd_basic_cases():
    true = np.zeros((4, 4))
    true[1, 0] = true[2, 0] = true[3, 2] = 1  # 0→1, 0→2, 2→3
    assert shd(true, true) == 0
    missing = true.copy()
    missing[3, 2] = 0
    assert shd(true, missing) == 1
    extra = true.copy()
    extra[3, 1] = 1
    assert shd(true, extra) == 1
    reversed_edge = true.copy()
    reversed_edge[1, 0], reversed_edge[0, 1] = 0, 1
    assert shd(true, reversed_edge) == 1
    two_way = true.copy()
    two_way[0, 1] = 1
    assert shd(true, two_way) == 1
    assert shd(true, np.zeros((4, 4))) == 3
    weighted = true * 0.4 + 0.05
    assert shd(true, weighted, threshold=0.1) == 0


def test_graph_scores():
    true = np.zeros((3, 3))
    true[1, 0] = true[2, 1] = 1
    est = np.zeros((3, 3))
    est[1, 0] = est[1, 2] = 1  # one right, one reversed
    scores = graph_scores(true, est)
    assert (scores.shd, scores.precision, scores.recall) == (1, 0.5, 0.5)
    empty = graph_scores(true, np.zeros((3, 3)))
    assert empty.precision == 1.0 and empty.recall == 0.0
    with pytest.raises(BadInput, match="same latents"):
        shd(true, np.zeros((4, 4)))


def _readings(true, est, blocks):
    n = len(true)
    train, test = np.arange(0, int(0.7 * n)), np.arange(int(0.7 * n), n)
    result = mcc(true[test], est[test])
    matched = {int(t): float(v) for (t, _), v in zip(result.matching, result.matched, strict=True)}
    names = [f"t{j}" for j in range(true.shape[1])]
    return recovery_by_block(true, est, train, test, blocks, matched, names)


def test_recovery_tells_recovered_mixed_and_missing_latents_apart():
    true = np.random.default_rng(0).uniform(-1, 1, (2000, 4))
    est = np.empty_like(true)
    est[:, 0] = 3 * true[:, 0] + 1  # recovered, rescaled
    # Block a: t1 and t2 rotated by 45 degrees — both held by the block, neither matched.
    est[:, 1] = true[:, 1] + true[:, 2]
    est[:, 2] = true[:, 1] - true[:, 2]
    est[:, 3] = np.random.default_rng(1).standard_normal(2000)  # t3 is in no latent
    out = _readings(true, est, {"a": [0, 1, 2], "b": [3]})
    readings = {item["latent"]: item for item in out["latents"]}
    assert readings["t0"]["reading"] == "recovered" and readings["t0"]["matched"] > 0.99
    for name in ("t1", "t2"):
        assert readings[name]["reading"] == "mixed", readings[name]
        assert readings[name]["best_block"] == "a" and readings[name]["block_r2"] > 0.8
    assert readings["t3"]["reading"] == "missing" and readings["t3"]["block_r2"] < 0.1
    assert set(out["r2"]) == {"a", "b"} and all(len(v) == 4 for v in out["r2"].values())


def test_recovery_handles_a_constant_true_latent_and_an_unmatched_one():
    rng = np.random.default_rng(2)
    true = np.column_stack([rng.standard_normal(300), np.full(300, 5.0), rng.standard_normal(300)])
    est = true[:, [0, 2]].copy()  # two estimated latents for three true ones
    out = _readings(true, est, {"m": [0, 1]})
    readings = {item["latent"]: item for item in out["latents"]}
    assert readings["t1"]["block_r2"] == 0.0 and readings["t1"]["reading"] == "missing"
    assert readings["t0"]["reading"] == readings["t2"]["reading"] == "recovered"


def test_mcc_ceiling_is_one_for_the_same_latents_and_bounds_every_estimate():
    a = _latents(n=2000, dims=4, seed=1)
    assert mcc_ceiling(a, -3.0 * a[:, [2, 0, 3, 1]]) == pytest.approx(1.0)
    # b: the first two latents as in a, the last two replaced by independent ones.
    b = np.column_stack([a[:, :2], _latents(n=2000, dims=2, seed=2)])
    ceiling = mcc_ceiling(a, b)
    assert ceiling == pytest.approx((2 * 2 + 2 * np.sqrt(2)) / 8, abs=0.02)
    # No estimate beats it against both truths: a, b, their blends, and random mixtures.
    rng = np.random.default_rng(3)
    candidates = [a, b, a + b, np.column_stack([a[:, :2], a[:, 2:] + b[:, 2:]])]
    candidates += [np.column_stack([a, b]) @ rng.standard_normal((8, 4)) for _ in range(50)]
    candidates += [np.column_stack([a, b]) @ rng.standard_normal((8, 3)) for _ in range(20)]
    best = max(min(mcc(a, est).value, mcc(b, est).value) for est in candidates)
    assert best <= ceiling + 1e-9
    # The blend of the two truths comes close to the ceiling: it is tight here.
    blend = np.column_stack([a[:, :2], a[:, 2:] + b[:, 2:]])
    assert min(mcc(a, blend).value, mcc(b, blend).value) == pytest.approx(ceiling, abs=0.02)


def test_mcc_ceiling_rejects_truths_of_different_sizes():
    with pytest.raises(BadInput, match="as many latents"):
        mcc_ceiling(_latents(dims=4), _latents(dims=3))
    with pytest.raises(BadInput, match="same rows"):
        mcc_ceiling(_latents(n=10), _latents(n=9))


@pytest.mark.parametrize("scale", [1e-200, 1e-300, 1e200])
def test_mcc_is_scale_free_at_extreme_magnitudes(scale):
    # The norm of values near 1e-200 underflowed: a perfect estimate scored 0.75.
    rng = np.random.default_rng(0)
    true = rng.normal(size=(200, 4))
    assert mcc(true, true[:, ::-1] * scale).value == pytest.approx(1.0)
