"""`personax data fetch`: released datasets from a local hub-layout snapshot, or a clear failure."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from personax.build.fetch import fetch_dataset
from personax.errors import BadInput


def _released_style(n: int, seed: int = 0) -> pd.DataFrame:
    """A table with the column spellings of the paper's pipeline figure."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "ID": [f"{i:05d}" for i in range(n)],
            "League": rng.choice(["NBA", "NFL", "NHL", "ATP", "PGA"], n),
            "Birthyear": rng.integers(1960, 2004, n),
            "Birthmonth": rng.integers(1, 13, n),
            "Birthday": rng.integers(1, 29, n),
            "Latitude": rng.uniform(-40, 60, n),
            "Longitude": rng.uniform(-120, 150, n),
            "Weight": rng.normal(90, 10, n).round(1),
            "Height": rng.normal(190, 8, n).round(1),
        }
    )
    spellings = {"Chatgpt": "{}_{}", "Gemini": "{}_{}", "Llama": "{}_{}"}
    letters = "ocean"
    for llm, pattern in spellings.items():
        for t in letters:
            df[pattern.format(llm, t.upper())] = rng.integers(0, 4, n)
    for t in letters:
        scores = df[[f"{llm}_{t.upper()}" for llm in spellings]].to_numpy().astype(float)
        scores[scores == 0] = np.nan
        df[f"Aggregated_{t.upper()}"] = pd.DataFrame(scores).median(axis=1)  # all-NaN -> NaN
    df["Profile_picture_embedding"] = list(rng.standard_normal((n, 16)).astype(np.float32))
    df["Chatgpt_text_embedding"] = list(rng.standard_normal((n, 8)).astype(np.float32))
    return df


@pytest.fixture
def snapshot(tmp_path):
    folder = tmp_path / "athlepersona"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: other\n---\n# AthlePersona\n")
    df = _released_style(40)
    df.iloc[:25].to_parquet(folder / "data" / "train-00000-of-00002.parquet", index=False)
    df.iloc[25:].to_parquet(folder / "data" / "train-00001-of-00002.parquet", index=False)
    return folder


def test_local_snapshot_loads_with_canonical_names_and_validates(snapshot):
    result = fetch_dataset("AthlePersona", local=snapshot)
    assert result.name == "athlepersona" and result.repo_id == "Persona-X/athlepersona"
    assert len(result.frame) == 40
    assert result.files == (
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
    )
    cols = set(result.frame.columns)
    expected = {
        "id",
        "league",
        "birth_year",
        "birth_month",
        "birth_day",
        "latitude",
        "longitude",
        "weight",
        "height",
        "chatgpt_o",
        "gemini_c",
        "llama_n",
        "final_e",
        "face_emb",
        "chatgpt_text_emb",
    }
    assert expected <= cols, expected - cols
    assert result.validation.ok, result.validation.summary()
    assert result.validation.n_rows == 40


def test_csv_snapshot_at_root(tmp_path):
    folder = tmp_path / "celeb"
    folder.mkdir()
    df = _released_style(10).drop(columns=["Profile_picture_embedding", "Chatgpt_text_embedding"])
    df["Gender"] = np.where(np.arange(10) % 2, 1, -1)
    df["Pointy_Nose"] = -1
    df.to_csv(folder / "celebpersona.csv", index=False)
    result = fetch_dataset("celebpersona", local=folder)
    assert {"gender", "pointy_nose", "final_o"} <= set(result.frame.columns)
    assert result.validation.ok


def test_cli_fetch_local_writes_table(snapshot, tmp_path, capsys):
    from personax.cli.main import main

    out = tmp_path / "athle.parquet"
    assert main(["data", "fetch", "athlepersona", "--local", str(snapshot), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert len(table) == 40 and "birth_year" in table.columns
    assert main(["data", "validate", str(out)]) == 0
    seeded = tmp_path / "seeded.parquet"  # --seed is accepted (uniform command line), unused
    args = ["data", "fetch", "athlepersona", "--local", str(snapshot), "--out", str(seeded)]
    assert main([*args, "--seed", "3"]) == 0
    assert seeded.read_bytes() == out.read_bytes()


def test_invalid_released_table_exits_2(snapshot, tmp_path, capsys):
    from personax.cli.main import main

    bad = _released_style(5)
    bad.loc[1, "ID"] = bad.loc[0, "ID"]  # duplicated id
    for f in (snapshot / "data").glob("*.parquet"):
        f.unlink()
    bad.to_parquet(snapshot / "data" / "train.parquet", index=False)
    out = tmp_path / "x.parquet"
    assert main(["data", "fetch", "athlepersona", "--local", str(snapshot), "--out", str(out)]) == 2
    assert not out.exists()
    assert "id" in capsys.readouterr().err


def test_offline_without_local_copy_fails_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    start = time.perf_counter()
    with pytest.raises(BadInput) as err:
        fetch_dataset("celebpersona")
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "celebpersona" in message and "--local DIR" in message and "offline" in message


@pytest.mark.parametrize(
    "args",
    [["data", "fetch", "imagenet"], ["data", "fetch", "athlepersona", "--local", "/nonexistent/x"]],
)
def test_cli_fetch_bad_input(args, capsys):
    from personax.cli.main import main

    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_snapshot_shards_with_different_columns_are_refused(tmp_path):
    # they were joined as a union, NaN where a file lacked a column, without a word
    folder = tmp_path / "celeb"
    folder.mkdir()
    df = _released_style(10).drop(columns=["Profile_picture_embedding", "Chatgpt_text_embedding"])
    df.iloc[:5].to_csv(folder / "a.csv", index=False)
    df.iloc[5:].drop(columns=["Height"]).to_csv(folder / "b.csv", index=False)
    with pytest.raises(BadInput, match=r"b.csv: its columns differ from those of .*a.csv \(height"):
        fetch_dataset("celebpersona", local=folder)
    df.iloc[5:].to_csv(folder / "b.csv", index=False)  # same columns: one table
    assert len(fetch_dataset("celebpersona", local=folder).frame) == 10


def test_snapshot_without_data_files(tmp_path):
    (tmp_path / "README.md").write_text("# nothing\n")
    with pytest.raises(BadInput, match="no Parquet or CSV"):
        fetch_dataset("athlepersona", local=tmp_path)


def test_online_path_uses_snapshot_download(snapshot, monkeypatch):
    # No network in tests: stand in for the hub client and check what personax asks of it.
    import huggingface_hub

    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(snapshot)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    result = fetch_dataset("athlepersona", timeout=3)
    assert calls == [
        {
            "repo_id": "Persona-X/athlepersona",
            "repo_type": "dataset",
            "etag_timeout": 3,
            "local_files_only": False,
        }
    ]
    assert len(result.frame) == 40 and result.validation.ok


def test_connection_error_names_dataset_and_local_option(monkeypatch):
    import huggingface_hub

    def unreachable(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(
        BadInput, match=r"cannot fetch dataset athlepersona \(OSError\).*--local DIR"
    ):
        fetch_dataset("athlepersona")


def test_cli_fetch_refuses_out_inside_the_snapshot(snapshot, capsys):
    from personax.cli.main import main

    target = snapshot / "data" / "train-00000-of-00002.parquet"
    before = target.read_bytes()
    args = ["data", "fetch", "athlepersona", "--local", str(snapshot), "--out", str(target)]
    assert main(args) == 2
    assert target.read_bytes() == before
    assert "inside the input" in capsys.readouterr().err
