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


def cli_p_values(table: pd.DataFrame, trait: str, attribute: str, tmp_path) -> pd.Series:
    """`personax independence` on ``table`` saved as Parquet: the p-value of each test."""
    from personax.cli.main import main

    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    out = tmp_path / "ind"
    args = ["independence", str(path), "--traits", trait, "--attributes", attribute]
    assert main([*args, "--seed", "0", "--out", str(out)]) == 0
    return pd.read_csv(out / "results.csv").set_index("test")["p_value"]


def test_text_labels_give_the_p_values_of_the_cli(tmp_path):
    # the Python functions refused a text attribute that the CLI tests as categories
    from personax.data.sample import make_sample

    table = make_sample("athlete", n=300, seed=0).table
    cli = cli_p_values(table, "final_o", "league", tmp_path)
    labels = table["league"].astype(object).to_numpy()
    for test in TESTS:
        result = test(table["final_o"].to_numpy(), labels)
        assert result.p_value == pytest.approx(cli[test.__name__], rel=1e-9), test.__name__
    # codes of the sorted labels, with the order-free kernel: the same as passing them so
    codes = pd.Series(labels).astype("category").cat.codes.to_numpy()
    assert kci(table["final_o"], labels).p_value == pytest.approx(
        kci(table["final_o"], codes, nominal_y=True).p_value, rel=1e-12
    )


@pytest.mark.parametrize("test", TESTS)
def test_missing_labels_are_dropped_and_odd_labels_refused(test):
    rng = np.random.default_rng(3)
    x = rng.integers(1, 4, 60).astype(float)
    labels = np.array(rng.choice(["a", "b", "c"], 60), dtype=object)
    labels[[0, 5]] = [None, np.nan]
    assert test(x, labels).n == 58
    # the CLI's rule: a number-like label among text labels is one more category ...
    labels[7] = "2.5"
    assert test(x, labels).n == 58
    # ... but a text among numbers (a typed "n/a") is a data error, named
    numbers = np.array([str(v) for v in x], dtype=object)
    numbers[9] = "n/a"
    with pytest.raises(BadInput, match="column 'y' holds numbers except the text 'n/a'"):
        test(x, numbers)
    with pytest.raises(BadInput, match="1-D array of numbers or labels"):
        test(np.array([["a", "b"], ["c", "d"]], dtype=object), x[:2])


def test_results_params_are_strict_json():
    # a categorical column's undefined width was written as NaN, which JSON readers refuse
    import json

    from personax.independence.battery import params_json

    text = params_json({"sigma_y": float("nan"), "sigma_x": np.float64(0.5), "k": np.int64(3)})
    assert json.loads(text) == {"k": 3, "sigma_x": 0.5, "sigma_y": None}
    assert "NaN" not in params_json({"nested": [float("inf"), {"a": float("nan")}]})


@pytest.mark.parametrize("test", TESTS)
def test_a_pandas_string_column_with_missing_cells_is_read_as_labels(test):
    rng = np.random.default_rng(4)
    x = pd.Series(rng.integers(1, 4, 50).astype(float))
    labels = pd.Series(rng.choice(["NFL", "NBA"], 50), dtype="string")
    labels[[0, 1]] = pd.NA
    assert test(x, labels).n == 48
    assert test(x, labels.astype(object)).p_value == test(x, labels).p_value
    mixed = labels.astype(object)
    mixed[3] = True
    with pytest.raises(BadInput, match=r"holds True \(bool\) among the text labels"):
        test(x, mixed)


def test_labels_that_look_like_numbers_are_labels_as_in_the_cli(tmp_path):
    # "1", "2", "10" were converted to numbers (a Gaussian kernel) by the Python functions,
    # while the CLI reads a text column as categories: two p-values for one question.
    rng = np.random.default_rng(5)
    codes = rng.choice(["1", "2", "10"], 200)
    trait = np.clip(rng.integers(1, 4, 200) + (codes == "10"), 1, 3).astype(float)
    table = pd.DataFrame({"id": [f"p{i}" for i in range(200)], "final_o": trait, "code": codes})
    table["code"] = table["code"].astype("string")
    cli = cli_p_values(table, "final_o", "code", tmp_path)
    as_given = {
        "numpy text": codes,
        "object text": codes.astype(object),
        "pandas string": table["code"],
        "pandas category": table["code"].astype("category"),
    }
    for test in TESTS:
        for kind, labels in as_given.items():
            result = test(trait, labels)
            assert result.p_value == pytest.approx(cli[test.__name__], rel=1e-9), (test, kind)
    # a category column of numbers is labels too (the CLI codes it so), in numeric order
    numeric_labels = pd.Series(codes.astype(int)).astype("category")
    in_order = numeric_labels.cat.codes.to_numpy()
    assert kci(trait, numeric_labels).p_value == kci(trait, in_order, nominal_y=True).p_value
    # numbers stay numbers, also in an object array
    numbers = codes.astype(int)
    assert kci(trait, numbers.astype(object)).p_value == kci(trait, numbers).p_value
    assert kci(trait, numbers).p_value != pytest.approx(cli["kci"], rel=1e-6)


def test_rcit_uses_the_lpb4_null_it_names():
    # momentchi2 calls np.math.factorial, gone in NumPy 2: LPB4 always failed and every RCIT
    # p-value silently came from the HBE fallback while the null column said lpb4
    from momentchi2 import lpb4

    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    result = rcit(x, x + rng.standard_normal(400))
    assert result.params["null_method"] == "lpb4" and result.null == "lpb4"
    weights = np.array([1.0, 0.5, 0.25, 0.2, 0.1])
    assert 0 < 1 - lpb4(weights, 2.0) < 1  # the library call itself works
    from personax.independence.rcit import weighted_chi2_sf

    assert weighted_chi2_sf(weights, 2.0)[1] == "lpb4"
    # with fewer than four weights momentchi2 runs HBE itself: the method says so
    assert weighted_chi2_sf(weights[:3], 2.0)[1] == "hbe"


def test_paper_rcit_without_a_width_is_a_row_with_a_note_not_a_crash(tmp_path):
    # a table sorted so that a pair's first 500 rows hold one value crashed the whole run
    # (LinAlgError) in --compat paper
    rng = np.random.default_rng(1)
    x = np.r_[np.ones(600), rng.integers(1, 4, 300)].astype(float)
    result = rcit(x, rng.standard_normal(900), compat="paper")
    assert np.isnan(result.p_value) and "first 500 rows" in result.note
    table = pd.DataFrame(
        {"id": [f"p{i}" for i in range(900)], "final_o": x, "height": rng.normal(180, 9, 900)}
    )
    path = tmp_path / "sorted.parquet"
    table.to_parquet(path)
    from personax.cli.main import main

    out = tmp_path / "o"
    assert main(["independence", str(path), "--compat", "paper", "--out", str(out)]) == 0
    rows = pd.read_csv(out / "results.csv").set_index("test")
    assert np.isnan(rows.loc["rcit", "p_value"]) and np.isfinite(rows.loc["kci", "p_value"])


def test_a_date_attribute_is_refused_not_made_into_categories(tmp_path, capsys):
    # 300 distinct dates became 297 categories; G-square called an independent pair significant
    from personax.cli.main import main

    rng = np.random.default_rng(2)
    dates = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, 300), unit="D")
    table = pd.DataFrame(
        {"id": [f"p{i}" for i in range(300)], "final_o": rng.integers(1, 4, 300), "born": dates}
    )
    path = tmp_path / "dates.parquet"
    table.to_parquet(path)
    out = tmp_path / "o"
    assert main(["independence", str(path), "--out", str(out)]) == 2
    assert "column 'born' holds dates or durations" in capsys.readouterr().err
    assert not out.exists()
