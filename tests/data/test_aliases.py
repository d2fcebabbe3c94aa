from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.data import read_table
from personax.data.aliases import ALIASES, canonical_name, canonicalize_columns, normalize_name
from personax.data.schema import FACE_ATTRIBUTES
from personax.errors import BadInput


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("ID", "id"),
        ("Birthyear", "birth_year"),
        ("birth year", "birth_year"),
        ("Birthmonth", "birth_month"),
        ("Birthday", "birth_day"),
        ("Latitude", "latitude"),
        ("Longitude", "longitude"),
        ("Height", "height"),
        ("Height(cm)", "height"),
        ("Height (cm)", "height"),
        ("Weight(kg)", "weight"),
        ("League", "league"),
        ("Type", "league"),
        ("Occupation_idx", "occupation"),
        ("Gender_idx", "gender"),
        ("Arched_Eyebrows", "arched_eyebrows"),
        ("High_Cheekbones", "high_cheekbones"),
        ("Chubby", "chubby"),
        ("4o_o", "chatgpt_o"),
        ("GPT-4o_Openness", "chatgpt_o"),
        ("gemini_o", "gemini_o"),
        ("Llama_N", "llama_n"),
        ("final_o", "final_o"),
        ("Aggregated_A", "final_a"),
        ("mistral_e", "mistral_e"),
        ("Image_Embedding", "face_emb"),
        ("Gemini_embedding", "gemini_text_emb"),
    ],
)
def test_known_spellings(source, canonical):
    assert canonical_name(source) == canonical


def test_every_face_attribute_in_celeba_spelling():
    for name in FACE_ATTRIBUTES:
        celeba = "_".join(part.capitalize() for part in name.split("_"))
        assert canonical_name(celeba) == name


def test_alias_keys_are_normalised():
    for key in ALIASES:
        assert normalize_name(key) == key


def test_unknown_columns_kept_and_listed():
    df = pd.DataFrame({"ID": ["a"], "Shoe size": [44], "Birthyear": [1990]})
    result = canonicalize_columns(df, "t.csv")
    assert list(result.frame.columns) == ["id", "Shoe size", "birth_year"]
    assert result.renamed == {"ID": "id", "Birthyear": "birth_year"}
    assert result.unrecognised == ["Shoe size"]


def test_ambiguous_mapping_names_both_columns():
    df = pd.DataFrame({"Height": [180], "Height(cm)": [181]})
    with pytest.raises(BadInput, match=r"'Height' and 'Height\(cm\)' both map to 'height'"):
        canonicalize_columns(df, "t.csv")


def test_packed_score_columns_are_expanded_in_place():
    df = pd.DataFrame(
        {
            "ID": ["a", "b", "c"],
            "Chatgpt_score": [
                '{"Openness": 3, "Conscientiousness": 2, "Extraversion": 1, '
                '"Agreeableness": 0, "Neuroticism": 2}',
                "[1, 2, 3, 1, 2]",
                None,
            ],
            "Gemini_score": [
                {"O": {"score": 1, "description": "x"}, "C": 2, "E": 3, "A": 1, "N": 0},
                (3, 3, 3, 3, 3),
                "2,2,2,2,2",
            ],
            "League": ["NBA", "NFL", "NHL"],
        }
    )
    result = canonicalize_columns(df, "t.csv")
    cols = list(result.frame.columns)
    assert cols[:2] == ["id", "chatgpt_o"] and cols[-1] == "league"
    assert result.expanded["Gemini_score"] == tuple(f"gemini_{t}" for t in "ocean")
    assert result.frame["chatgpt_o"].tolist()[:2] == [3.0, 1.0]
    assert np.isnan(result.frame["chatgpt_o"].iloc[2])
    assert result.frame["gemini_o"].tolist() == [1.0, 3.0, 2.0]
    assert result.frame["gemini_n"].tolist() == [0.0, 3.0, 2.0]


def test_aggregated_bigfive_score_becomes_final():
    df = pd.DataFrame({"Aggregated_BigFive_score": ["1,2,3,2,1"]})
    assert canonicalize_columns(df).frame.columns.tolist() == [f"final_{t}" for t in "ocean"]


@pytest.mark.parametrize("bad", ["hello", "[1, 2]", '{"Openness": 3}', "1,2,x,4,5"])
def test_unreadable_packed_score_names_cell(bad):
    df = pd.DataFrame({"Llama_score": ["1,1,1,1,1", bad]})
    with pytest.raises(BadInput, match=r"column 'Llama_score', row 2"):
        canonicalize_columns(df, "t.csv")


def test_packed_and_plain_columns_clash():
    df = pd.DataFrame({"Chatgpt_score": ["1,1,1,1,1"], "4o_o": [2]})
    with pytest.raises(BadInput, match="both map to 'chatgpt_o'"):
        canonicalize_columns(df, "t.csv")


def test_read_table_applies_aliases_and_keeps_id_text(tmp_path):
    path = tmp_path / "released.csv"
    path.write_text("ID,Birthyear,4o_o,Height(cm)\n007,1990,2,180\n010,1991,3,190\n")
    df = read_table(path)
    assert df.columns.tolist() == ["id", "birth_year", "chatgpt_o", "height"]
    assert df["id"].tolist() == ["007", "010"]


NAME = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["ID", "id", "Height", "height(cm)", "Chatgpt_score", "4o_o", "chatgpt_o"]),
    st.integers(-3, 3),
)
CELL = st.one_of(
    st.none(), st.integers(-5, 5), st.floats(), st.text(max_size=10), st.lists(st.integers(0, 3))
)


@settings(max_examples=50, deadline=None)
@given(names=st.lists(NAME, max_size=6), data=st.data())
def test_canonicalize_only_ever_raises_bad_input(names, data):
    frame = pd.DataFrame(
        {i: data.draw(st.lists(CELL, min_size=2, max_size=2)) for i in range(len(names))},
        index=range(2),
    )
    frame.columns = names
    try:
        result = canonicalize_columns(frame, "t.csv")
    except BadInput as exc:
        assert str(exc).startswith("t.csv: ")
        return
    assert len(result.frame) == 2
    assert len(set(result.frame.columns)) == len(result.frame.columns)
    assert all(isinstance(c, str) for c in result.frame.columns)


@given(st.text(max_size=20))
def test_normalize_is_idempotent(name):
    assert normalize_name(normalize_name(name)) == normalize_name(name)
