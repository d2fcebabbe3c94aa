from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.data.sample import make_sample, write_sample
from personax.data.validate import validate_table
from personax.errors import BadInput


def _good(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "height": np.linspace(170, 190, n),
            "chatgpt_o": [1, 2, 3, 0][:n],
            "gemini_o": [1, 2, 0, 0][:n],
            "llama_o": [2, 2, 3, 0][:n],
            "final_o": [1.0, 2.0, 3.0, np.nan][:n],
        }
    )


def _where(report):
    return {(i.severity, i.row, i.column) for i in report.issues}


@pytest.mark.parametrize("kind", ["athlete", "celebrity"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_sample_round_trip_is_valid(tmp_path, kind, suffix):
    out = tmp_path / f"{kind}{suffix}"
    write_sample(make_sample(kind, n=300, seed=1), out)
    report = validate_table(out)
    assert report.ok and report.n_warnings == 0, report.issues[:5]


def test_default_athlete_sample_is_valid(tmp_path):
    out = tmp_path / "athlete.parquet"
    write_sample(make_sample("athlete"), out)
    report = validate_table(out)
    assert report.ok and report.n_rows == 4181


def test_good_table_has_no_issues():
    report = validate_table(_good())
    assert report.ok and report.issues == ()
    assert "valid" in report.summary()


def test_all_problems_are_reported_with_row_and_column():
    df = _good()
    df.loc[1, "id"] = "p0"  # duplicate
    df.loc[2, "id"] = "  "  # empty
    df["chatgpt_o"] = [7, 2, 3, 0]  # out of range
    df["gemini_o"] = [1.5, 2, 0, 0]  # not an integer
    df["height"] = ["180", "tall", np.inf, None]
    report = validate_table(df, source="t.csv")
    where = _where(report)
    assert ("error", 2, "id") in where
    assert ("error", 3, "id") in where
    assert ("error", 1, "chatgpt_o") in where
    assert ("error", 1, "gemini_o") in where
    assert ("error", 2, "height") in where
    assert ("error", 3, "height") in where
    assert report.n_errors == 6
    assert report.summary().startswith("t.csv: row 3, column 'id': empty id")


def test_missing_id_column():
    report = validate_table(_good().drop(columns="id"))
    assert not report.ok and report.errors[0].column == "id"
    assert "missing" in report.errors[0].message


def test_final_inconsistent_is_a_warning():
    df = _good()
    df.loc[0, "final_o"] = 3.0
    df.loc[3, "final_o"] = 0.0
    report = validate_table(df)
    assert report.ok
    assert ("warning", 1, "final_o") in _where(report)
    assert ("warning", 4, "final_o") in _where(report)
    # the warning says what the next step does with it
    row_1 = next(i for i in report.issues if i.row == 1 and i.column == "final_o")
    assert "`personax build` refuses it" in row_1.message


def test_final_out_of_range_is_error():
    df = _good()
    df.loc[0, "final_o"] = 4.5
    assert ("error", 1, "final_o") in _where(validate_table(df))


def test_ranges_and_face_codes():
    df = _good()
    df["latitude"] = [10.0, 95.0, -20.0, np.nan]
    df["big_nose"] = [1, -1, 0, 1]
    where = _where(validate_table(df))
    assert ("error", 2, "latitude") in where
    assert ("warning", 3, "big_nose") in where


def test_non_finite_in_any_numeric_column():
    df = _good()
    df["shoe_size"] = [40.0, -np.inf, 42.0, 43.0]
    assert ("error", 2, "shoe_size") in _where(validate_table(df))


def test_embeddings_of_unequal_length_and_garbage():
    df = _good()
    df["face_emb"] = [[1.0, 2.0], [1.0, 2.0], [1.0], "not a list"]
    where = _where(validate_table(df))
    assert ("error", 3, "face_emb") in where
    assert ("error", 4, "face_emb") in where


def test_embedding_with_nan_inside():
    df = _good()
    df["face_emb"] = [[1.0, np.nan], [1.0, 2.0], [1.0, 2.0], None]
    assert ("error", 1, "face_emb") in _where(validate_table(df))


def test_limit_keeps_first_and_counts_all():
    df = pd.DataFrame({"id": ["x"] * 50, "chatgpt_o": [9] * 50, "chatgpt_c": 1, "chatgpt_e": 1})
    report = validate_table(df, limit=10)
    assert len(report.issues) == 10 and report.truncated
    assert report.n_errors == 49 + 50


def test_empty_and_header_only(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    header = tmp_path / "h.csv"
    header.write_text("id,height\n")
    assert "empty" in validate_table(empty).errors[0].message
    assert "no rows" in validate_table(header).errors[0].message
    assert not validate_table(pd.DataFrame()).ok


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "j.parquet"
    junk.write_bytes(b"\x00\x01 definitely not parquet")
    report = validate_table(junk)
    assert not report.ok and "Parquet" in report.summary() and "j.parquet" in report.summary()
    assert "no such file" in validate_table(tmp_path / "nope.csv").summary()


def test_ambiguous_columns_reported():
    df = pd.DataFrame({"id": ["a"], "Height": [1], "height": [2]})
    report = validate_table(df)
    assert not report.ok and "both map to 'height'" in report.errors[0].message


def test_unrecognised_column_warning():
    df = _good()
    df["Shoe size"] = 42
    report = validate_table(df)
    assert report.ok and ("warning", None, "Shoe size") in _where(report)


def test_dataset_folder(tmp_path):
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("card")
    _good().to_parquet(folder / "data" / "train.parquet")
    assert validate_table(folder).ok


def test_report_json():
    df = _good()
    df.loc[0, "chatgpt_o"] = 5
    obj = validate_table(df).to_json_dict()
    assert obj["ok"] is False and obj["issues"][0]["row"] == 1


def test_duplicated_csv_header_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,league,league,final_o\na1,NBA,x,2\n")
    report = validate_table(path)
    assert not report.ok and "'league' twice" in report.errors[0].message


@pytest.mark.parametrize(("ids", "fragment"), [([7, 8, 9], "(int64)"), ([7.0, 8.0, 9.0], "7.0")])
def test_ids_stored_as_numbers_are_a_warning(ids, fragment):
    df = _good().iloc[:3].copy()
    df["id"] = ids
    report = validate_table(df)
    warning = next(i for i in report.issues if i.column == "id")
    assert warning.severity == "warning" and fragment in warning.message
    assert "store the ids as text" in warning.message


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ('"[1, ""2"", 0.5]"', "is not a non-empty list of numbers"),
        ('"[true, 1.0, 0.5]"', "is not a non-empty list of numbers"),
        ('"[]"', "is not a non-empty list of numbers"),
    ],
)
def test_validate_refuses_the_embeddings_reading_refuses(tmp_path, cell, problem):
    # validate said "valid" while data info and demo --data refused the same cell
    from personax.data.table import read_table

    path = tmp_path / "t.csv"
    path.write_text(f'id,final_o,face_emb\np1,1,"[0.1, 0.2, 0.3]"\np2,2,{cell}\n')
    report = validate_table(path)
    assert [e.row for e in report.errors] == [2] and problem in report.errors[0].message
    with pytest.raises(BadInput, match="row 2: expected a non-empty JSON list of numbers"):
        read_table(path)
