from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.data import column_groups, read_table, write_table
from personax.data.table import read_raw_table
from personax.errors import BadInput


def _frame():
    return pd.DataFrame(
        {
            "id": ["a", "b"],
            "height": [180.0, np.nan],
            "chatgpt_o": [1, 0],
            "final_o": [1.0, np.nan],
            "face_emb": [np.array([0.5, -1.25]), np.array([1.0, 2.0])],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_round_trip(tmp_path, suffix):
    path = write_table(_frame(), tmp_path / f"t{suffix}")
    back = read_table(path)
    assert back["id"].tolist() == ["a", "b"]
    np.testing.assert_allclose(np.stack(back["face_emb"]), [[0.5, -1.25], [1.0, 2.0]])
    groups = column_groups(back)
    assert groups.embeddings == ("face_emb",) and groups.llm_traits == ("chatgpt_o",)


def test_same_frame_same_bytes(tmp_path):
    a = write_table(_frame(), tmp_path / "a.parquet", metadata={"k": "v"})
    b = write_table(_frame(), tmp_path / "b.parquet", metadata={"k": "v"})
    assert a.read_bytes() == b.read_bytes()


def test_dataset_folder(tmp_path):
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: other\n---\n")
    write_table(_frame().iloc[:1], folder / "data" / "part-0.parquet")
    write_table(_frame().iloc[1:], folder / "data" / "part-1.parquet")
    assert read_table(folder)["id"].tolist() == ["a", "b"]


def test_folder_of_unrelated_parquet_files_is_refused(tmp_path):
    write_table(_frame(), tmp_path / "a.parquet")
    write_table(_frame()[["id", "height"]], tmp_path / "b.parquet")
    with pytest.raises(BadInput, match="b.parquet has different columns from a.parquet"):
        read_raw_table(tmp_path)


def test_empty_folder_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no data/\\*.parquet"):
        read_raw_table(tmp_path)


def test_bad_embedding_text_names_cell(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,face_emb\na,"[1, 2]"\nb,oops\n')
    with pytest.raises(BadInput, match="column 'face_emb', row 2"):
        read_table(path)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(BadInput, match="unknown table format"):
        read_table(path)


@pytest.mark.parametrize("header", ["id,league,id", "id,league,league"])
def test_csv_header_naming_a_column_twice_is_refused(tmp_path, header):
    # pandas would rename the copy `id.1` and let it pass as an attribute.
    path = tmp_path / "t.csv"
    path.write_text(f"{header}\na1,NBA,a1\n")
    name = header.split(",")[-1]
    with pytest.raises(BadInput, match=f"column '{name}' twice"):
        read_raw_table(path)


@pytest.mark.parametrize(
    ("text", "row"),
    [
        # One field too many in the first data row: pandas would take ids as the row index.
        ("id,final_o,final_c\np1,2,3,1\np2,1,2\np3,3,1\n", 1),
        ("id,final_o,final_c\np1,2,3\np2,1,2\np3,3,1,9\n", 3),
    ],
)
def test_a_row_longer_than_the_header_is_refused_with_its_number(tmp_path, text, row):
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    with pytest.raises(BadInput, match=f"row {row} has 4 fields but the header names 3 columns"):
        read_raw_table(path)


def test_short_rows_and_quoted_separators_still_read(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text('id,final_o,note\np1,2,"a, b"\np2,\n')
    table = read_raw_table(path)
    assert table["id"].tolist() == ["p1", "p2"]
    assert table["note"].iloc[0] == "a, b"
    assert pd.isna(table["final_o"].iloc[1])


@pytest.mark.parametrize(
    ("name", "text", "found", "tip"),
    [
        ("semi.csv", "id;age;final_o\np1;30,5;2\np2;40;3\n", "semicolons", "save it with commas."),
        ("tabs.csv", "id\tage\tfinal_o\np1\t30\t2\n", "tabs", "or name the file .tsv"),
        ("bars.tsv", "id|age\np1|30\n", "vertical bars", "save it with tabs."),
    ],
)
def test_a_file_separated_by_another_character_is_refused_with_a_hint(
    tmp_path, name, text, found, tip
):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInput, match="separated by") as caught:
        read_raw_table(path)
    assert found in str(caught.value) and tip in str(caught.value)


def test_a_one_column_table_and_quoted_semicolons_still_read(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("id\np1\np2\n")
    assert read_raw_table(path)["id"].tolist() == ["p1", "p2"]
    path.write_text('id,note\np1,"a; b"\n')
    assert read_raw_table(path)["note"].iloc[0] == "a; b"


def test_a_non_utf8_file_names_the_line_and_the_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,city\np1,Zürich\np2,Paris\n".encode("latin-1"))
    with pytest.raises(BadInput, match=r"line 2 .* byte 0xfc, which is not UTF-8"):
        read_raw_table(path)
    path.write_bytes("id,Größe\np1,1\n".encode("latin-1"))  # in the header
    with pytest.raises(BadInput, match=r"line 1 .* byte 0xf6"):
        read_raw_table(path)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("id,final_o\np1,2\n".encode("utf-8-sig"))
    assert list(read_raw_table(path).columns) == ["id", "final_o"]


def test_a_numeric_column_that_merely_ends_in_a_trait_letter_is_an_attribute():
    # height_c was taken for a per-LLM score and left out of every test without a word
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "height_c": [180.5, 175.0, 190.2],
            "sector_n": [1.5, 2.7, 9.1],
            "mistral_o": [1, 2, 3],  # an unknown model's levels: still a score
            "chatgpt_o": [4, 1, 2],  # a paper LLM: a score (validate reports the 4)
            "mymodel_o": [1.5, 2, 3],
            "mymodel_c": [1, 2, 3],
            "mymodel_e": [1, 2, 0],  # three traits of one prefix: scores by their names
        }
    )
    groups = column_groups(frame)
    assert set(groups.attributes) == {"height_c", "sector_n"}
    assert set(groups.llm_traits) == {
        "mistral_o",
        "chatgpt_o",
        "mymodel_o",
        "mymodel_c",
        "mymodel_e",
    }


def test_a_height_c_of_zero_is_a_value_not_insufficient_information():
    from personax.independence.battery import prepare_column

    frame = pd.DataFrame({"height_c": [0.0, 170.5, 180.25], "chatgpt_o": [0, 1, 2]})
    assert prepare_column(frame, "height_c", trait=False).values[0] == 0.0
    assert np.isnan(prepare_column(frame, "chatgpt_o", trait=False).values[0])


@pytest.mark.parametrize(
    ("name", "text", "hint"),
    [
        ("commas.tsv", "id,age,final_o\np1,30,2\n", "save it with tabs or name the file .csv"),
        ("semi_comma.csv", "id;age;note, x\np1;30;a\n", "looks separated by semicolons"),
    ],
)
def test_the_separator_hint_also_covers_a_comma_tsv_and_a_mostly_semicolon_header(
    tmp_path, name, text, hint
):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInput, match=hint):
        read_raw_table(path)


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("id,notes (a;b;c)\np1,x\np2,y\n", ["id", "notes (a;b;c)"]),  # more ; than , in the header
        ("id,notes (a;b;c)\n", ["id", "notes (a;b;c)"]),  # header only
        ("id\np1;x\np2;y\n", ["id"]),  # one column whose cells hold semicolons
    ],
)
def test_separators_inside_names_or_cells_of_a_comma_file_are_not_refused(tmp_path, text, columns):
    # the header's separator counts alone refused the first two
    path = tmp_path / "good.csv"
    path.write_text(text)
    assert list(read_raw_table(path).columns) == columns


@pytest.mark.parametrize(
    "text",
    ["id;age;final_o\n", "id;note\np1;a, b\np2;c, d\n", "id|age\np1|30\n"],
)
def test_a_file_that_reads_as_a_table_only_by_another_separator_is_refused(tmp_path, text):
    path = tmp_path / "other.csv"
    path.write_text(text)
    with pytest.raises(BadInput, match="looks separated by"):
        read_raw_table(path)


def test_a_quoted_header_name_with_a_semicolon_is_one_column(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('"id;age"\np1\n')
    assert list(read_raw_table(path).columns) == ["id;age"]


def test_a_models_columns_stay_together_whatever_one_cell_holds():
    # one stray 9 split mistral_o (an attribute, tested against the traits) from mistral_c
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "mistral_o": [1, 9, 2],
            "mistral_c": [1, 2, 3],
            "height_c": [1.5, 2, 3],
        }
    )
    groups = column_groups(frame)
    assert set(groups.llm_traits) == {"mistral_o", "mistral_c"} and groups.attributes == (
        "height_c",
    )
    from personax.data.validate import validate_table

    report = validate_table(frame)
    assert any(i.column == "mistral_o" and i.severity == "error" for i in report.issues)
    # a named score column's 0 is "insufficient information" even beside an odd value
    from personax.independence.battery import prepare_column

    odd = pd.DataFrame({"chatgpt_o": [0, 1, 2, 3, 0, 5]})
    assert np.isnan(prepare_column(odd, "chatgpt_o", trait=False).values[[0, 4]]).all()


def test_an_id_spelled_like_a_missing_marker_is_an_id(tmp_path):
    # "NA" (a person's id) was read as missing: validate called a valid table's id empty
    from personax.data import validate_table

    path = tmp_path / "t.csv"
    path.write_text("id,final_o,height\nNA,1,NA\nnull,2,180\nnan,3,\n,2,170\n")
    table = read_raw_table(path)
    assert table["id"].tolist()[:3] == ["NA", "null", "nan"] and pd.isna(table["id"][3])
    assert table["height"].isna().tolist() == [True, False, True, False]  # other columns as before
    errors = [i.message for i in validate_table(path).errors]
    assert len(errors) == 1 and "empty id" in errors[0]  # only the truly empty one
