"""--compat paper reproduces the authors' libraries within 1e-6 (absolute p-value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.independence import chisq, gsq, hsic, kci, rcit
from tests.independence.tables import personax_like

causallearn_cit = pytest.importorskip("causallearn.utils.cit")
ci_hsic = pytest.importorskip("conditional_independence").hsic_test

TOL = 1e-6


def _numeric(col: pd.Series) -> np.ndarray:
    # the authors coded categorical attributes as sorted category codes
    if not pd.api.types.is_numeric_dtype(col):
        codes = col.astype("category").cat.codes.astype(float)
        return codes.where(codes >= 0).to_numpy()
    return col.to_numpy(dtype=float)


def _pair(df: pd.DataFrame, trait: str, attribute: str) -> tuple[np.ndarray, np.ndarray]:
    x = df[trait].replace(0, np.nan).to_numpy(dtype=float)
    y = _numeric(df[attribute])
    return x, y


def _complete(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    keep = np.isfinite(x) & np.isfinite(y)
    return np.column_stack([x[keep], y[keep]])


ATTRIBUTES = [
    "height",
    "weight",
    "birth_year",
    "latitude",
    "day_sin",
    "gender",
    "occupation",
    "big_nose",
]


@pytest.mark.parametrize("n", [150, 600, 1300])  # the three branches of causal-learn's width rule
@pytest.mark.parametrize("trait", ["final_o", "chatgpt_o"])
def test_kci_hsic_match_reference(n: int, trait: str) -> None:
    df = personax_like(n, seed=n)
    for attribute in ATTRIBUTES:
        x, y = _pair(df, trait, attribute)
        data = _complete(x, y)
        ref_kci = causallearn_cit.CIT(data, "kci")(0, 1)
        ref_hsic = ci_hsic(data, 0, 1)["p_value"]
        ours_kci = kci(x, y, compat="paper")
        ours_hsic = hsic(x, y, compat="paper")
        assert ours_kci.n == data.shape[0]
        assert abs(ours_kci.p_value - ref_kci) <= TOL, (attribute, ours_kci.p_value, ref_kci)
        assert abs(ours_hsic.p_value - ref_hsic) <= TOL, (attribute, ours_hsic.p_value, ref_hsic)


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_rcit_matches_reference_with_same_draws(table_small: pd.DataFrame, seed: int) -> None:
    for attribute in ATTRIBUTES:
        x, y = _pair(table_small, "final_o", attribute)
        np.random.seed(seed)  # causal-learn draws its random features from numpy's global state
        ref = causallearn_cit.CIT(_complete(x, y), "rcit")(0, 1)
        ours = rcit(x, y, seed=seed, compat="paper")
        assert abs(ours.p_value - ref) <= TOL, (attribute, ours.p_value, ref)


def test_chisq_gsq_match_reference(table_small: pd.DataFrame) -> None:
    for trait in ("final_o", "final_c", "gemini_o"):
        for attribute in ("gender", "occupation", "big_nose", "birth_year", "latitude"):
            x, y = _pair(table_small, trait, attribute)
            data = _complete(x, y)
            for name, ours_fn in (("chisq", chisq), ("gsq", gsq)):
                ref = causallearn_cit.CIT(data, name)(0, 1)
                ours = ours_fn(x, y, compat="paper")
                assert abs(ours.p_value - ref) <= TOL, (trait, attribute, name)


def test_kci_hsic_continuous_pair_matches_reference() -> None:
    # both sides with many distinct values: the blockwise row path
    rng = np.random.default_rng(3)
    x = rng.normal(size=700)
    y = np.sin(2 * x) + rng.normal(scale=0.7, size=700)
    data = np.column_stack([x, y])
    assert abs(kci(x, y, compat="paper").p_value - causallearn_cit.CIT(data, "kci")(0, 1)) <= TOL
    assert abs(hsic(x, y, compat="paper").p_value - ci_hsic(data, 0, 1)["p_value"]) <= TOL


def test_blockwise_path_matches_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    # force the blockwise evaluation of the many-valued side and compare with the dense one
    from personax.independence import kernels

    df = personax_like(900, seed=5)
    x, y = _pair(df, "final_o", "weight")
    dense = kci(x, y, compat="paper"), hsic(x, y, compat="paper")
    monkeypatch.setattr(kernels, "DENSE_LIMIT", 16)
    monkeypatch.setattr(kernels, "BLOCK_BYTES", 8 * 16 * 900)
    blockwise = kci(x, y, compat="paper"), hsic(x, y, compat="paper")
    for a, b in zip(dense, blockwise, strict=True):
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
        assert abs(a.p_value - b.p_value) <= 1e-12
