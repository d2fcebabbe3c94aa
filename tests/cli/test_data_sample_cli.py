from __future__ import annotations

from personax.cli.main import main
from personax.data import read_table
from personax.data.sample import load_truth, sidecar_paths


def test_sample_writes_table_and_sidecars(tmp_path, capsys):
    out = tmp_path / "athlete.parquet"
    assert (
        main(
            ["data", "sample", "--kind", "athlete", "--n", "120", "--seed", "3", "--out", str(out)]
        )
        == 0
    )
    assert "SYNTHETIC" in capsys.readouterr().out
    truth_path, latents_path = sidecar_paths(out)
    assert out.exists() and truth_path.exists() and latents_path.exists()
    assert len(read_table(out)) == 120
    assert load_truth(out).seed == 3


def test_sample_same_seed_same_bytes_csv(tmp_path):
    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for out in outs:
        assert main(["data", "sample", "--kind", "celebrity", "--n", "80", "--out", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_sample_tsv_is_tab_separated_and_reads_back(tmp_path):
    # the table went through a temporary name without the .tsv suffix and came out with commas
    out = tmp_path / "celebrity.tsv"
    assert main(["data", "sample", "--kind", "celebrity", "--n", "40", "--out", str(out)]) == 0
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert "\t" in header and "," not in header
    assert len(read_table(out)) == 40
    assert main(["data", "validate", str(out)]) == 0


def test_sample_bad_suffix_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "x.xlsx"
    assert main(["data", "sample", "--n", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "x.xlsx" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sample_bad_kind(tmp_path, capsys):
    assert main(["data", "sample", "--kind", "robot", "--out", str(tmp_path / "x.csv")]) == 2
    assert "robot" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
