"""Validation of the statistics: calibration under independence, power, seeding, ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from personax.independence import chisq, fisherz, gsq, hsic, kci, rcit


def _draw(rng: np.random.Generator, n: int, dependence: float):
    """A discrete trait with ties, a continuous and a discrete attribute."""
    latent = rng.normal(size=n)
    trait = np.clip(np.round((2 + 0.8 * latent + rng.normal(scale=0.6, size=n)) * 2) / 2, 1, 3)
    continuous = np.round(170 + 7 * rng.normal(size=n) + dependence * 7 * latent)
    discrete = (rng.random(n) < 1 / (1 + np.exp(-dependence * latent))) + rng.integers(0, 3, size=n)
    return trait, continuous, discrete.astype(float)


def _rejection_rates(sims: int, n: int, dependence: float, compat: str | None) -> dict[str, float]:
    rng = np.random.default_rng(12345)
    hits = dict.fromkeys(("kci", "hsic", "rcit", "chisq", "gsq"), 0)
    for s in range(sims):
        trait, continuous, discrete = _draw(rng, n, dependence)
        attribute = continuous if s % 2 == 0 else discrete  # kernel tests see both kinds
        hits["kci"] += kci(trait, attribute, compat=compat).p_value < 0.05
        hits["hsic"] += hsic(trait, attribute, compat=compat).p_value < 0.05
        hits["rcit"] += rcit(trait, attribute, seed=s, compat=compat).p_value < 0.05
        hits["chisq"] += chisq(trait, discrete, compat=compat).p_value < 0.05
        hits["gsq"] += gsq(trait, discrete, compat=compat).p_value < 0.05
    return {k: v / sims for k, v in hits.items()}


def test_type_one_error_fast() -> None:
    # 400 simulations: binomial sd ≈ 0.011 at 0.05, so the band is ±3.5 sd
    rates = _rejection_rates(sims=400, n=300, dependence=0.0, compat=None)
    for test, rate in rates.items():
        assert 0.015 <= rate <= 0.09, (test, rate)


@pytest.mark.slow
@pytest.mark.parametrize("compat", [None, "paper"])
def test_type_one_error_within_3_to_7_percent(compat: str | None) -> None:
    rates = _rejection_rates(sims=3000, n=500, dependence=0.0, compat=compat)
    for test, rate in rates.items():
        assert 0.03 <= rate <= 0.07, (test, rate)


def test_power_on_planted_dependence() -> None:
    rates = _rejection_rates(sims=60, n=400, dependence=1.5, compat=None)
    for test, rate in rates.items():
        assert rate >= 0.8, (test, rate)


def test_default_widths_beat_paper_widths_on_continuous_attribute() -> None:
    # the paper's fixed widths waste power on a continuous attribute (README: differences 1, 2)
    rng = np.random.default_rng(8)
    wins = dict.fromkeys(("kci", "hsic"), 0)
    for _ in range(30):
        trait, continuous, _ = _draw(rng, 300, 0.35)
        for test in (kci, hsic):
            ours = test(trait, continuous).p_value
            paper = test(trait, continuous, compat="paper").p_value
            wins[test.__name__] += ours < paper
    assert min(wins.values()) >= 24, wins


def test_rcit_seeded() -> None:
    rng = np.random.default_rng(0)
    trait, continuous, _ = _draw(rng, 500, 0.2)
    for compat in (None, "paper"):
        first = rcit(trait, continuous, seed=5, compat=compat)
        again = rcit(trait, continuous, seed=5, compat=compat)
        other = rcit(trait, continuous, seed=6, compat=compat)
        assert first.p_value == again.p_value and first.statistic == again.statistic
        assert other.statistic != first.statistic


def test_results_invariant_to_row_order_and_units() -> None:
    rng = np.random.default_rng(1)
    trait, continuous, _ = _draw(rng, 400, 0.3)
    order = rng.permutation(400)
    for test in (kci, hsic):
        base = test(trait, continuous)
        shuffled = test(trait[order], continuous[order])
        rescaled = test(trait, continuous / 100.0)  # cm → m: default widths are scale-free
        assert shuffled.p_value == pytest.approx(base.p_value, rel=1e-9, abs=1e-14)
        assert rescaled.p_value == pytest.approx(base.p_value, rel=1e-9, abs=1e-14)
    base = rcit(trait, continuous, seed=2)
    assert rcit(trait[order], continuous[order], seed=2).p_value == pytest.approx(
        base.p_value, rel=1e-9
    )


def test_edge_inputs() -> None:
    assert np.isnan(kci([1.0], [2.0]).p_value)
    assert np.isnan(hsic(np.ones(20), np.arange(20.0)).p_value)
    assert "constant" in kci(np.ones(20), np.arange(20.0)).note
    assert np.isnan(rcit([np.nan] * 5, [1.0] * 5).p_value)
    assert np.isnan(chisq([np.nan, 1.0], [2.0, np.nan]).p_value)
    assert chisq(np.ones(10), np.arange(10.0), compat="paper").p_value == 1.0  # causal-learn's rule
    assert np.isnan(chisq(np.ones(10), np.arange(10.0)).p_value)
    with pytest.raises(ValueError):
        kci([1.0, 2.0], [1.0])
    from personax.errors import BadInput

    with pytest.raises(BadInput):
        kci(["a", "b", 3.0], [1.0, 2.0, 3.0])  # neither numbers nor labels
    assert kci(["a", "b", "c"], [1.0, 2.0, 3.0]).n == 3  # labels are categories


def test_planted_truth_of_embedded_sample() -> None:
    sample_module = pytest.importorskip("personax.data.sample")
    from personax.independence.battery import run_battery

    sample = sample_module.make_sample("celebrity", n=3000, seed=1)
    truth = {(d.trait, d.attribute): d.dependent for d in sample.truth.dependencies}
    frame = run_battery(sample.table, tests=("kci", "hsic", "rcit", "chisq")).results
    frame = frame[frame.p_value.notna()]
    planted = np.array([truth[(t, a)] for t, a in zip(frame.trait, frame.attribute, strict=True)])
    for test in ("kci", "hsic", "rcit", "chisq"):
        mask = (frame.test == test).to_numpy()
        power = frame.significant.to_numpy()[mask & planted].mean()
        false_positive_rate = frame.significant.to_numpy()[mask & ~planted].mean()
        assert power >= 0.65, (test, power)
        assert false_positive_rate <= 0.08, (test, false_positive_rate)


def test_grid_approximation_is_close_and_marked() -> None:
    from personax.independence.kernels import SMALL_SIDE

    rng = np.random.default_rng(4)
    n = 2 * SMALL_SIDE + 300
    x = rng.normal(size=n)
    y = 0.15 * np.sin(2 * x) + rng.normal(size=n)
    for test in (kci, hsic):
        exact, approx = test(x, y), test(x, y, approx="grid")
        assert exact.note == "" and "approximate" in approx.note
        assert approx.statistic == pytest.approx(exact.statistic, rel=2e-3)
        assert abs(approx.p_value - exact.p_value) <= 0.01
    # discrete × continuous never needs it: the exact factorised route is used
    trait, continuous, _ = _draw(rng, n, 0.2)
    assert kci(trait, continuous, approx="grid").note == ""
    assert kci(trait, continuous, approx="grid").p_value == kci(trait, continuous).p_value


def test_nominal_attribute_invariant_to_category_order() -> None:
    rng = np.random.default_rng(9)
    trait, _, _ = _draw(rng, 600, 0.0)
    codes = rng.integers(0, 6, size=600)
    codes[trait >= 2.5] = rng.integers(0, 3, size=int((trait >= 2.5).sum()))  # planted
    relabel = np.array([4, 0, 5, 1, 3, 2])
    for test in (kci, hsic):
        a = test(trait, codes.astype(float), nominal_y=True)
        b = test(trait, relabel[codes].astype(float), nominal_y=True)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-300)
        assert np.isnan(a.params["sigma_y"])
    # RCIT: one-hot random features; relabelling permutes iid feature columns, so it changes
    # a seeded draw but not the test's distribution — the planted dependence is found either way
    for labels in (codes, relabel[codes]):
        assert rcit(trait, labels.astype(float), seed=1, nominal_y=True).p_value < 0.01


def test_type_one_error_nominal_attribute() -> None:
    rng = np.random.default_rng(3)
    hits = dict.fromkeys(("kci", "hsic", "rcit"), 0)
    sims = 300
    for s in range(sims):
        trait, _, _ = _draw(rng, 300, 0.0)
        nominal = rng.integers(0, 6, size=300).astype(float)
        hits["kci"] += kci(trait, nominal, nominal_y=True).p_value < 0.05
        hits["hsic"] += hsic(trait, nominal, nominal_y=True).p_value < 0.05
        hits["rcit"] += rcit(trait, nominal, seed=s, nominal_y=True).p_value < 0.05
    for test, count in hits.items():
        assert 0.015 <= count / sims <= 0.09, (test, count / sims)


@pytest.mark.parametrize("test", [kci, hsic, rcit])
def test_kernel_tests_give_a_noted_invalid_result_beyond_the_kernel_range(test):
    # The Python functions, like the CLI, refuse values whose squares overflow.
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    result = test(x * 1e300, x + rng.normal(size=200))
    assert np.isnan(result.p_value) and "rescale the column" in result.note


def test_fisherz_does_not_depend_on_a_columns_scale():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=300), rng.normal(size=300)
    y = x + z + rng.normal(size=300)
    plain = fisherz(x, y, z).p_value
    assert fisherz(x * 1e155, y, z * 1e-150).p_value == pytest.approx(plain, rel=1e-9)


@pytest.mark.parametrize("levels", [2, 3, 5])
def test_contingency_effect_size_is_cramers_v_for_both_tests(levels):
    # A perfect association has V = 1; the G statistic (2n·ln k here) would give more than 1.
    x = np.repeat(np.arange(levels, dtype=float), 40)
    for test in (chisq, gsq):
        assert test(x, x.copy()).effect_size == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, levels, 400), rng.integers(0, levels, 400)
    v_chisq, v_gsq = chisq(a, b).effect_size, gsq(a, b).effect_size
    assert v_gsq == pytest.approx(v_chisq) and 0 <= v_gsq < 0.2
