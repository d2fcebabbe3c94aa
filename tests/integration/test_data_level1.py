"""data sample / validate / info and the Level I chain: sample -> independence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from .conftest import assert_bad_input, files_of, px

LLMS = ("chatgpt", "gemini", "llama")
TRAITS = "ocean"
RESULT_COLUMNS = ["trait", "attribute", "test", "statistic", "p_value", "p_adjusted", "n"]


def test_sample_has_the_table_shape(athlete_csv):
    df = pd.read_csv(athlete_csv, dtype={"id": str})
    assert df["id"].is_unique and df["id"].str.len().gt(0).all()
    per_llm = [f"{llm}_{t}" for llm in LLMS for t in TRAITS]
    finals = [f"final_{t}" for t in TRAITS]
    assert set(per_llm + finals) <= set(df.columns)
    scores = df[per_llm]
    assert scores.notna().all().all() and scores.isin([0, 1, 2, 3]).all().all()
    # final_<t> = median of the non-zero per-LLM scores, NaN when every LLM answered 0
    for t in TRAITS:
        block = df[[f"{llm}_{t}" for llm in LLMS]].replace(0, np.nan)
        np.testing.assert_allclose(block.median(axis=1), df[f"final_{t}"], equal_nan=True)
    for column in ("face_emb", "chatgpt_text_emb"):
        lengths = df[column].map(lambda cell: len(json.loads(cell)))
        assert lengths.nunique() == 1


def test_sample_same_seed_same_bytes(qa_dir, athlete_csv):
    again = qa_dir / "athletes_again.csv"
    assert px("data", "sample", "--n", 240, "--seed", 1, "--out", again).code == 0
    assert again.read_bytes() == athlete_csv.read_bytes()
    other = qa_dir / "athletes_seed2.csv"
    assert px("data", "sample", "--n", 240, "--seed", 2, "--out", other).code == 0
    assert other.read_bytes() != athlete_csv.read_bytes()


def test_sample_validates_and_info_reports_shape(athlete_csv):
    run = px("data", "validate", athlete_csv)
    assert run.code == 0, run.err
    run = px("data", "info", athlete_csv, "--json")
    assert run.code == 0, run.err
    info = json.loads(run.out)
    assert info["n_rows"] == 240


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("id,final_o\n", "no rows"),
        ("id,final_o\na,2\na,3\n", "'id'"),
        ("name,final_o\nx,2\n", "'id'"),
        ("id,final_o,height\na,2,tall\n", "height"),
    ],
    ids=["empty", "header-only", "duplicate-id", "no-id", "text-in-numeric"],
)
def test_validate_bad_tables_exit_2(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert_bad_input(px("data", "validate", path), str(path), needle)


def test_missing_file_exit_2_everywhere(tmp_path):
    missing = tmp_path / "absent.csv"
    for args in (
        ("data", "validate", missing),
        ("data", "info", missing),
        ("independence", missing, "--out", tmp_path / "o1"),
        ("discover", missing, "--out", tmp_path / "o2"),
    ):
        assert_bad_input(px(*args), str(missing))
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.fixture(scope="module")
def level1(qa_dir, athlete_csv):
    out = qa_dir / "level1"
    run = px("independence", athlete_csv, "--tests", "hsic,chisq,gsq,rcit", "--seed", 3,
             "--out", out)  # fmt: skip
    assert run.code == 0, run.err
    return out


def test_independence_results_contract(level1, athlete_csv):
    results = pd.read_csv(level1 / "results.csv")
    assert set(RESULT_COLUMNS) <= set(results.columns)
    table = pd.read_csv(athlete_csv, nrows=1)
    finals = [c for c in table.columns if c.startswith("final_")]
    # default attributes: every column except id, trait and embedding columns
    attributes = [
        c for c in table.columns
        if c != "id" and not c.endswith("_emb") and not c.startswith("final_")
        and not any(c.startswith(f"{llm}_") for llm in LLMS)
    ]  # fmt: skip
    assert set(results["trait"]) == set(finals)
    assert set(results["attribute"]) == set(attributes)
    assert not results.duplicated(["trait", "attribute", "test"]).any()
    assert len(results) == len(finals) * len(attributes) * 4
    # skipped combinations: empty p-value and a note saying why
    skipped = results[results["p_value"].isna()]
    assert skipped["note"].notna().all()
    assert set(skipped["test"]) <= {"chisq", "gsq"}  # continuous attributes only
    tested = results.dropna(subset=["p_value"])
    assert tested["p_value"].between(0, 1).all()
    assert (tested["p_adjusted"] >= tested["p_value"] - 1e-12).all()
    assert (tested["n"] <= 240).all() and (tested["n"] > 0).all()


def test_independence_bh_within_each_test(level1):
    from scipy.stats import false_discovery_control

    results = pd.read_csv(level1 / "results.csv").dropna(subset=["p_value"])
    for _, group in results.groupby("test"):
        expected = false_discovery_control(group["p_value"].to_numpy(), method="bh")
        np.testing.assert_allclose(group["p_adjusted"], expected, rtol=1e-6, atol=1e-9)


def test_independence_same_seed_same_bytes(level1, qa_dir, athlete_csv):
    again = qa_dir / "level1_again"
    run = px("independence", athlete_csv, "--tests", "hsic,chisq,gsq,rcit", "--seed", 3,
             "--out", again)  # fmt: skip
    assert run.code == 0
    assert files_of(again) == files_of(level1)


def test_independence_nan_and_constant_columns_do_not_crash(tmp_path):
    table = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({
        "id": [f"p{i}" for i in range(n)],
        "final_o": rng.integers(1, 4, n).astype(float),
        "height": rng.normal(170, 10, n).round(1),
        "const": np.ones(n),
    })  # fmt: skip
    df.loc[[3, 7], "final_o"] = np.nan
    df.loc[[5], "height"] = np.nan
    df.to_csv(table, index=False)
    run = px("independence", table, "--tests", "kci,hsic,chisq", "--out", tmp_path / "o")
    assert run.code == 0, run.err
    results = pd.read_csv(tmp_path / "o" / "results.csv")
    const = results[results["attribute"] == "const"]
    assert const["p_value"].isna().all() and const["note"].notna().all()
    height_kci = results[(results["attribute"] == "height") & (results["test"] == "kci")]
    assert int(height_kci["n"].iloc[0]) == n - 3  # pairwise deletion


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--traits", "final_q"], "final_q"),
        (["--attributes", "nosuch"], "nosuch"),
        (["--tests", "kci,foo"], "foo"),
        (["--compat", "author"], "author"),
        (["--alpha", "2"], "alpha"),
        (["--traits", "league"], "league"),
    ],
)
def test_independence_bad_options_exit_2_without_output(athlete_csv, tmp_path, options, needle):
    out = tmp_path / "out"
    assert_bad_input(px("independence", athlete_csv, *options, "--out", out), needle)
    assert not out.exists()


def test_independence_failure_keeps_previous_output(athlete_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("previous\n")
    assert px("independence", athlete_csv, "--traits", "final_q", "--out", out).code == 2
    assert (out / "results.csv").read_text() == "previous\n"


def test_independence_text_in_numeric_column(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("id,final_o,height\na,2,170\nb,3,abc\nc,1,160\n")
    assert_bad_input(px("independence", table, "--out", tmp_path / "o"), "height", "abc")


def test_per_llm_zero_counts_as_missing(athlete_csv, tmp_path):
    out = tmp_path / "o"
    run = px("independence", athlete_csv, "--traits", "chatgpt_o", "--attributes", "league",
             "--tests", "chisq", "--out", out)  # fmt: skip
    assert run.code == 0, run.err
    table = pd.read_csv(athlete_csv)
    usable = ((table["chatgpt_o"] != 0) & table["league"].notna()).sum()
    results = pd.read_csv(out / "results.csv")
    assert int(results["n"].iloc[0]) == usable
