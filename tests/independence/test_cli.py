"""`personax independence` end to end: outputs and exit codes."""

from __future__ import annotations

import pandas as pd

from personax.cli.main import main
from tests.independence.tables import personax_like


def test_cli_writes_results(tmp_path, capsys) -> None:
    table = tmp_path / "t.csv"
    personax_like(250, seed=2).to_csv(table, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "independence",
            str(table),
            "--tests",
            "kci,chisq",
            "--compat",
            "paper",
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    frame = pd.read_csv(out / "results.csv")
    assert set(frame.test) == {"kci", "chisq"}
    assert (out / "heatmap_kci.svg").exists()


def test_cli_bad_input_exit_2(tmp_path, capsys) -> None:
    table = tmp_path / "t.csv"
    personax_like(50, seed=2).to_csv(table, index=False)
    assert (
        main(["independence", str(table), "--attributes", "nope", "--out", str(tmp_path / "o")])
        == 2
    )
    assert "nope" in capsys.readouterr().err
    assert (
        main(["independence", str(table), "--compat", "authors", "--out", str(tmp_path / "o")]) == 2
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("id,final_o,height\n")
    assert main(["independence", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o" / "results.csv").exists()


def test_cli_options_bins_jobs_approx(tmp_path) -> None:
    table = tmp_path / "t.parquet"
    personax_like(300, seed=3).to_parquet(table)
    out = tmp_path / "out"
    args = [
        "independence",
        str(table),
        "--traits",
        "final_o,chatgpt_o",
        "--attributes",
        "weight,gender",
    ]
    args += [
        "--tests",
        "gsq,hsic",
        "--bins",
        "3",
        "--jobs",
        "2",
        "--approx",
        "grid",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 2 * 2 * 2
    assert (
        frame[(frame.test == "gsq") & (frame.attribute == "weight")]
        .note.str.contains("binned")
        .all()
    )
    wide = pd.read_csv(out / "pvalues_hsic.csv", index_col="trait")
    assert list(wide.columns) == ["weight", "gender"]
    assert main(args[:-2] + ["--approx", "nystrom", "--out", str(out)]) == 2


def test_cli_list_options_refuse_empty_items(tmp_path, capsys) -> None:
    # '--tests chisq,' ran chisq alone, silently dropping what the trailing comma lost
    table = tmp_path / "t.csv"
    personax_like(50, seed=2).to_csv(table, index=False)
    out = tmp_path / "o"
    for option, value in (("--tests", "chisq,"), ("--traits", "final_o,,final_c")):
        assert main(["independence", str(table), option, value, "--out", str(out)]) == 2
        assert f"{option} '{value}' has an empty item" in capsys.readouterr().err
    assert main(["independence", str(table), "--attributes", " ", "--out", str(out)]) == 2
    assert "--attributes is empty" in capsys.readouterr().err
    assert not out.exists()


def test_cli_duplicated_id_names_both_rows(tmp_path, capsys) -> None:
    df = personax_like(60, seed=2)
    df.loc[5, "id"] = df.loc[1, "id"]
    table = tmp_path / "t.csv"
    df.to_csv(table, index=False)
    assert main(["independence", str(table), "--tests", "chisq", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"t.csv: row 6, column 'id': duplicated id '{df.loc[1, 'id']}' (first in row 2)." in err
    assert not (tmp_path / "o").exists()
