"""Property-based: malformed tables never crash the readers or `validate` (exit 0 or 2, never 1)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personax.cli.main import main

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SUFFIXES = st.sampled_from([".csv", ".parquet", ".tsv"])


def _check_commands(path: Path, capsys) -> None:
    for command in (["data", "validate", str(path)], ["data", "info", str(path)]):
        code = main(command)
        out, err = capsys.readouterr()
        assert code in (0, 2), (command, code, err)
        assert "Traceback" not in err and "Traceback" not in out
        if code == 2:
            lines = err.strip().splitlines()
            assert lines and lines[-1].startswith("personax: error: ")
            assert str(path) in lines[-1]


@SETTINGS
@given(data=st.binary(max_size=600), suffix=SUFFIXES)
def test_random_bytes(capsys, data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"table{suffix}"
        path.write_bytes(data)
        _check_commands(path, capsys)


CELL = st.one_of(
    st.just(""),
    st.integers(-10, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["id", "nan", "inf", "-inf", "[1, 2]", "[1,", '"', "a,b", "\\n", "7", "0"]),
    st.text(max_size=8),
)
HEADER = st.sampled_from(
    [
        "id",
        "ID",
        "chatgpt_o",
        "gemini_o",
        "final_o",
        "height",
        "Height(cm)",
        "face_emb",
        "Chatgpt_score",
        "big_nose",
        "latitude",
        "x",
        "",
    ]
)


@SETTINGS
@given(
    header=st.lists(HEADER, min_size=0, max_size=6),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=7), max_size=6),
    text=st.text(max_size=200),
    use_text=st.booleans(),
)
def test_random_csv_text(capsys, header, rows, text, use_text):
    if use_text:
        content = text
    else:
        content = "\n".join([",".join(header), *(",".join(r) for r in rows)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
        _check_commands(path, capsys)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4),
)
COLUMN = st.sampled_from(
    [
        "id",
        "chatgpt_o",
        "chatgpt_c",
        "chatgpt_e",
        "llama_o",
        "final_o",
        "height",
        "weight",
        "latitude",
        "birth_month",
        "big_nose",
        "face_emb",
        "gemini_text_emb",
        "gender",
        "Llama_score",
        "notes",
    ]
)


@st.composite
def frames(draw):
    columns = draw(st.lists(COLUMN, unique=True, max_size=6))
    n = draw(st.integers(0, 6))
    data = {}
    for col in columns:
        kind = draw(st.sampled_from(["mixed", "int", "float", "str"]))
        if kind == "mixed":
            data[col] = pd.Series(draw(st.lists(VALUES, min_size=n, max_size=n)), dtype=object)
        elif kind == "int":
            data[col] = pd.Series(draw(st.lists(st.integers(-5, 9), min_size=n, max_size=n)))
        elif kind == "float":
            floats = st.floats(allow_nan=True, allow_infinity=True)
            data[col] = pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=float)
        else:
            data[col] = pd.Series(draw(st.lists(st.text(max_size=5), min_size=n, max_size=n)))
    return pd.DataFrame(data, index=range(n)) if data else pd.DataFrame(index=range(n))


@SETTINGS
@given(df=frames(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_random_frames(capsys, df, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"table{suffix}"
        try:
            if suffix == ".parquet":
                df.to_parquet(path)
            else:
                df.to_csv(path, index=False)
        except Exception:  # noqa: BLE001 — pyarrow refuses some mixed columns; nothing to read then
            return
        _check_commands(path, capsys)


@SETTINGS
@given(
    n=st.integers(-3, 40),
    seed=st.integers(-2, 2**31),
    suffix=st.sampled_from([".csv", ".parquet", ".json", ""]),
)
def test_sample_succeeds_or_leaves_nothing(capsys, n, seed, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"s{suffix}"
        code = main(
            [
                "data",
                "sample",
                "--n",
                str(n),
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--face-dim",
                "3",
                "--text-dim",
                "2",
            ]
        )
        _, err = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in err
        names = sorted(p.name for p in Path(tmp).iterdir())
        if code == 0:
            assert names == sorted(
                [out.name, f"{out.name}.latents.parquet", f"{out.name}.truth.json"]
            )
            assert main(["data", "validate", str(out)]) == 0
            capsys.readouterr()
        else:
            assert names == []
