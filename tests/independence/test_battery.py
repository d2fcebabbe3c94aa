"""The battery: defaults, skipping, BH, outputs, edge cases and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from personax.errors import BadInput
from personax.independence.battery import benjamini_hochberg, run_battery
from personax.independence.output import write_battery
from tests.independence.tables import personax_like


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return personax_like(400, seed=4)


def test_defaults_cover_final_traits_and_all_attributes(table: pd.DataFrame) -> None:
    result = run_battery(table, tests=("kci", "chisq"))
    assert result.traits == ("final_o", "final_c")
    assert "id" not in result.attributes and "chatgpt_o" not in result.attributes
    assert set(result.attributes) == {
        "height", "weight", "birth_year", "latitude", "day_sin", "gender", "occupation", "big_nose"
    }  # fmt: skip
    frame = result.results
    assert len(frame) == 2 * len(result.attributes) * 2
    # continuous attributes are skipped by chisq with a note, discrete ones are tested
    weight = frame[(frame.test == "chisq") & (frame.attribute == "weight")]
    assert weight.p_value.isna().all() and weight.note.str.contains("continuous").all()
    gender = frame[(frame.test == "chisq") & (frame.attribute == "gender")]
    assert gender.p_value.notna().all()
    # planted dependency final_o ~ gender is found by every test
    hit = frame[(frame.trait == "final_o") & (frame.attribute == "gender")]
    assert (hit.p_value < 1e-4).all()


def test_bins_make_continuous_attributes_testable(table: pd.DataFrame) -> None:
    frame = run_battery(table, attributes=["weight"], tests=("gsq",), bins=4).results
    assert frame.p_value.notna().all()
    assert frame.note.str.contains("binned into 4").all()


def test_bh_adjustment_within_each_test(table: pd.DataFrame) -> None:
    frame = run_battery(table, tests=("kci", "hsic")).results
    for test in ("kci", "hsic"):
        sub = frame[frame.test == test]
        np.testing.assert_allclose(sub.p_adjusted, benjamini_hochberg(sub.p_value.to_numpy()))
        assert (sub.p_adjusted >= sub.p_value - 1e-15).all()
        assert (sub.significant == (sub.p_adjusted < 0.05)).all()


def test_benjamini_hochberg_known_values() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    adj = benjamini_hochberg(p)
    np.testing.assert_allclose(adj[[0, 1, 2, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert math.isnan(adj[3])


def test_parallel_equals_serial_and_seed_reproducible(table: pd.DataFrame) -> None:
    serial = run_battery(table, tests=("rcit", "kci"), seed=3).results
    parallel = run_battery(table, tests=("rcit", "kci"), seed=3, n_jobs=2).results
    pd.testing.assert_frame_equal(serial, parallel)
    other = run_battery(table, tests=("rcit",), seed=4).results
    assert not np.allclose(other.p_value, serial[serial.test == "rcit"].p_value.to_numpy())
    # More workers than attributes: as many as there are tasks (10**5 used to hang starting
    # processes).
    many = run_battery(table, tests=("rcit", "kci"), seed=3, n_jobs=10**5).results
    pd.testing.assert_frame_equal(serial, many)


def test_progress_callback_reaches_total(table: pd.DataFrame) -> None:
    calls = []
    run_battery(
        table,
        attributes=["gender", "height"],
        tests=("chisq",),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)


def test_degenerate_pairs_give_nan_with_note() -> None:
    df = pd.DataFrame(
        {
            "final_o": [1.0, 2.0, 3.0, 2.0, 1.0, 3.0, 2.0, 1.0],
            "constant": [5.0] * 8,
            "empty": [np.nan] * 8,
            "one_row": [np.nan] * 7 + [1.0],
        }
    )
    frame = run_battery(df).results
    assert frame.p_value.isna().all()
    assert (frame.note.str.len() > 0).all()
    assert frame.p_adjusted.isna().all() and not frame.significant.any()


def test_one_row_table() -> None:
    df = pd.DataFrame({"final_o": [2.0], "height": [170.0]})
    frame = run_battery(df).results
    assert frame.p_value.isna().all() and (frame.note != "").all()


def test_bad_input(table: pd.DataFrame) -> None:
    with pytest.raises(BadInput, match="unknown attribute column"):
        run_battery(table, attributes=["nope"])
    with pytest.raises(BadInput, match="unknown trait column"):
        run_battery(table, traits=["final_x"])
    with pytest.raises(BadInput, match="unknown test"):
        run_battery(table, tests=("kci", "ttest"))
    with pytest.raises(BadInput, match="empty"):
        run_battery(table.iloc[:0])
    broken = table.copy()
    broken["height"] = broken["height"].astype(object)
    broken.loc[3, "height"] = "tall"
    with pytest.raises(BadInput, match="'height'.*'tall'"):
        run_battery(broken, attributes=["height"])
    text_trait = table.assign(final_o=table["final_o"].astype(str))
    with pytest.raises(BadInput, match="final_o"):
        run_battery(text_trait)


def test_zero_trait_scores_are_missing() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=200)
    df = pd.DataFrame({"chatgpt_o": scores, "gender": rng.choice(["f", "m"], size=200)})
    frame = run_battery(df, traits=["chatgpt_o"], tests=("chisq",)).results
    assert frame.n.iloc[0] == int((scores > 0).sum())


def test_zero_scores_of_a_per_llm_attribute_are_missing_too() -> None:
    # used as an attribute, a per-LLM score kept 0 ("insufficient information") as a level
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=200)
    final = rng.integers(1, 4, size=200).astype(float)
    df = pd.DataFrame({"final_o": final, "chatgpt_c": scores})
    frame = run_battery(df, attributes=["chatgpt_c"], tests=("chisq",)).results
    assert frame.n.iloc[0] == int((scores > 0).sum())


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda df: df.assign(id=["p0", *df["id"].iloc[:-1]]), "duplicated id 'p0'"),
        (lambda df: df.assign(final_o=df["final_o"].where(df.index != 4, 7.0)), "outside 1..3"),
        (lambda df: df.assign(chatgpt_o=[9, *[1] * (len(df) - 1)]), "outside 0..3"),
    ],
)
def test_tables_that_data_validate_refuses_are_refused(table, change, fragment) -> None:
    # independence used to test them: a person counted twice, a score no LLM can give
    with pytest.raises(BadInput, match=fragment):
        run_battery(change(table.assign(id=[f"p{i}" for i in range(len(table))])))


def test_an_impossible_score_after_many_warnings_is_still_refused() -> None:
    # 0 in final_o is only a warning; 150 of them used to fill the issue list, hiding the error
    final = np.r_[np.zeros(150), 7.0, np.ones(49)]
    df = pd.DataFrame({"final_o": final, "height": np.arange(200.0)})
    with pytest.raises(BadInput, match="row 151, column 'final_o': aggregated score 7"):
        run_battery(df, tests=("chisq",))


def test_write_battery_outputs(table: pd.DataFrame, tmp_path) -> None:
    df = table.copy()
    result = run_battery(df, traits=["final_o", "chatgpt_o", "gemini_o"], tests=("kci", "chisq"))
    written = write_battery(result, tmp_path)
    names = {p.name for p in written}
    assert {
        "results.csv",
        "pvalues_kci.csv",
        "heatmap_kci.png",
        "heatmap_kci.svg",
        "run.json",
    } <= names
    back = pd.read_csv(tmp_path / "results.csv")
    for col in ("trait", "attribute", "test", "statistic", "p_value", "p_adjusted", "n"):
        assert col in back.columns
    wide = pd.read_csv(tmp_path / "pvalues_kci.csv", index_col="trait")
    assert list(wide.index) == ["final_o", "chatgpt_o", "gemini_o"]
    assert (tmp_path / "heatmap_chisq.png").read_bytes()[:4] == b"\x89PNG"
    # same inputs → same bytes
    first = (tmp_path / "heatmap_kci.svg").read_bytes(), (tmp_path / "results.csv").read_bytes()
    write_battery(result, tmp_path)
    assert first == (
        (tmp_path / "heatmap_kci.svg").read_bytes(),
        (tmp_path / "results.csv").read_bytes(),
    )


@pytest.mark.parametrize("compat", [None, "paper"])
def test_shared_pass_over_many_valued_attribute_is_exact(
    monkeypatch: pytest.MonkeyPatch, compat: str | None
) -> None:
    from personax.independence import battery, kernels

    df = personax_like(700, seed=8)
    rng = np.random.default_rng(8)
    df["fine"] = df["final_o"].fillna(2) * 0.3 + rng.normal(size=len(df))  # all values distinct
    df.loc[rng.random(len(df)) < 0.1, "fine"] = np.nan
    traits = ["final_o", "chatgpt_o", "gemini_o"]
    columns = {"traits": traits, "attributes": ["fine", "height"], "tests": ("kci", "hsic")}
    dense = run_battery(df, **columns, compat=compat).results
    monkeypatch.setattr(kernels, "DENSE_LIMIT", 50)
    monkeypatch.setattr(battery, "SMALL_SIDE", 50)
    calls = []
    original = kernels.centred_gram_sums_shared_y
    monkeypatch.setattr(
        battery, "centred_gram_sums_shared_y", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    shared = run_battery(df, **columns, compat=compat).results
    # One shared pass for the many-valued attribute: of all traits and tests by default; in
    # paper mode one for HSIC's fixed kernel and one per KCI attribute width (the width is
    # taken over each pair's complete rows, and these traits are missing on different rows).
    assert len(calls) == (1 if compat is None else 1 + len(traits))
    np.testing.assert_allclose(shared.statistic, dense.statistic, rtol=1e-9)
    np.testing.assert_allclose(shared.p_value, dense.p_value, rtol=1e-7, atol=1e-12)
    assert (shared.n == dense.n).all()


@pytest.mark.parametrize("compat", [None, "paper"])
def test_a_degenerate_trait_beside_a_many_valued_attribute_gets_a_note(
    monkeypatch: pytest.MonkeyPatch, compat: str | None
) -> None:
    # A constant, empty or one-row trait has no kernel width; paper mode's KCI once divided
    # by that zero width in the shared pass (ZeroDivisionError, exit 1).
    from personax.independence import battery

    monkeypatch.setattr(battery, "SMALL_SIDE", 50)
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame(
        {
            "final_o": rng.choice([1.0, 2.0, 3.0], n),
            "final_c": 2.0,
            "final_e": np.nan,
            "final_a": [1.0] + [np.nan] * (n - 1),
            "fine": rng.normal(size=n),
        }
    )
    frame = run_battery(df, tests=("kci", "hsic"), compat=compat).results
    degenerate = frame[frame.trait != "final_o"]
    assert degenerate.p_value.isna().all() and (degenerate.note.str.len() > 0).all()
    assert frame[frame.trait == "final_o"].p_value.notna().all()


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"traits": ["final_o", "final_o"]}, "trait 'final_o' is given more than once"),
        ({"attributes": ["gender", "height", "gender"]}, "attribute 'gender' is given more"),
        ({"tests": ("kci", "chisq", "kci")}, "test 'kci' is given more than once"),
        ({"traits": ["final_o"], "attributes": ["final_o"]}, "'final_o' is both a trait and"),
        ({"attributes": ["gender", "id"]}, "'id' identifies people"),
    ],
)
def test_repeated_or_self_pairs_are_bad_input(table: pd.DataFrame, options, fragment) -> None:
    # repeated names crashed with "Index contains duplicate entries"
    with pytest.raises(BadInput, match=fragment):
        run_battery(table, **options)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_column_out_of_kernel_range_is_bad_input(table: pd.DataFrame, scale: float) -> None:
    # sigma**2 overflowed (OverflowError) or underflowed to 0 (ZeroDivisionError)
    scaled = table.assign(weight=table["weight"] * scale)
    with pytest.raises(BadInput, match="largest magnitude in column 'weight' is"):
        run_battery(scaled, attributes=["weight"], tests=("kci",))
    # the contingency tests only see bins, so they still run
    frame = run_battery(scaled, attributes=["weight"], tests=("chisq",), bins=4).results
    assert frame.p_value.notna().all()


def test_bins_note_gives_the_number_of_bins_really_used() -> None:
    # half the rows share one value, so qcut drops tied edges: 10 requested, fewer used
    rng = np.random.default_rng(0)
    n = 300
    weight = np.where(np.arange(n) < n // 2, 70.0, rng.normal(70, 10, n))
    df = pd.DataFrame({"final_o": rng.integers(1, 4, n).astype(float), "weight": weight})
    frame = run_battery(df, attributes=["weight"], tests=("chisq",), bins=10).results
    used = pd.qcut(weight, q=10, labels=False, duplicates="drop").max() + 1
    assert used < 10
    assert f"attribute binned into {used} quantile bins (10 requested" in frame.note.iloc[0]
    assert frame.params.map(lambda p: json.loads(p)["cols"]).iloc[0] == used
