"""Inputs the Python API refuses instead of returning a plausible number (found by a sweep)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.errors import BadInput
from personax.independence import chisq, gsq, hsic, kci, rcit
from personax.independence.battery import prepare_column

TESTS = [kci, rcit, hsic, chisq, gsq]


@pytest.mark.parametrize("test", TESTS)
def test_a_two_dimensional_input_is_refused_not_flattened(test):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=60)
    with pytest.raises(BadInput, match="x must be a 1-D array of numbers, got shape \\(30, 2\\)"):
        test(x, y)
    one_column = test(rng.integers(0, 3, (30, 1)), rng.integers(0, 3, 30))  # n × 1 is 1-D
    assert one_column.n == 30


@pytest.mark.parametrize(
    "x",
    [
        np.array([1 + 2j, 2, 3, 4, 5]),
        pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-03", "2020-01-04", "2020-01-05"])),
        None,
        3.0,
    ],
)
def test_complex_dates_and_scalars_are_refused(x):
    with pytest.raises(BadInput, match="^x must be"):
        kci(x, np.arange(5.0))


@pytest.mark.parametrize("test", [kci, hsic, rcit])
@pytest.mark.parametrize("width", [0, -1.0, float("nan"), float("inf"), "1"])
def test_a_kernel_width_must_be_positive(test, width):
    rng = np.random.default_rng(1)
    with pytest.raises(BadInput, match="sigma_x must be a positive number"):
        test(rng.normal(size=50), rng.normal(size=50), sigma_x=width)
    assert np.isfinite(
        test(rng.normal(size=50), rng.normal(size=50), sigma_x=np.float32(0.7)).p_value
    )


def test_category_codes_are_sorted_whatever_the_dtype_declares():
    labels = ["tennis", "golf", "rugby", "golf", "tennis", "archery"]
    plain = pd.DataFrame({"sport": labels})
    declared = pd.DataFrame(
        {"sport": pd.Categorical(labels, categories=["tennis", "rugby", "golf", "archery", "polo"])}
    )
    a = prepare_column(plain, "sport", trait=False)
    b = prepare_column(declared, "sport", trait=False)
    assert a.categories == b.categories == ("archery", "golf", "rugby", "tennis")
    np.testing.assert_array_equal(a.values, b.values)
