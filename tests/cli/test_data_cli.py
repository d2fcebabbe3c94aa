"""Acceptance: bad inputs exit 2 with one sentence naming the column, value or file."""

from __future__ import annotations

import json

import pytest

from personax.cli.main import main


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def _first_line(err: str) -> str:
    return err.strip().splitlines()[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name,height\nx,180\n", "'id'"),
        ("id,height\na,180\na,181\n", "duplicated id 'a'"),
        ("id,height\na,180\n,181\n", "empty id"),
        ("id,chatgpt_o\na,7\n", "7"),
        ("", "empty"),
        ("id,height,chatgpt_o\n", "no rows"),
    ],
    ids=["no-id", "duplicated-id", "empty-id", "score-7", "empty-file", "header-only"],
)
def test_bad_tables_exit_2_with_a_sentence(tmp_path, capsys, content, needle):
    path = tmp_path / "t.csv"
    path.write_text(content)
    code, _, err = _run(capsys, "data", "validate", path)
    assert code == 2
    line = _first_line(err)
    assert str(path) in line and needle in line and line.endswith(".")


def test_score_7_names_the_column(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("id,chatgpt_o\na,7\n")
    _, _, err = _run(capsys, "data", "validate", path)
    assert "chatgpt_o" in _first_line(err) and "row 1" in _first_line(err)


def test_not_parquet_exits_2(tmp_path, capsys):
    path = tmp_path / "t.parquet"
    path.write_bytes(bytes(range(256)) * 4)
    for command in ("validate", "info"):
        code, _, err = _run(capsys, "data", command, path)
        assert code == 2 and str(path) in _first_line(err) and "Parquet" in _first_line(err)


def test_missing_path_exits_2(tmp_path, capsys):
    path = tmp_path / "absent.parquet"
    for command in ("validate", "info"):
        code, _, err = _run(capsys, "data", command, path)
        assert code == 2 and str(path) in _first_line(err)


def test_validate_lists_all_issues_and_counts(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("id,chatgpt_o,height\na,7,abc\na,1,180\n")
    code, out, err = _run(capsys, "data", "validate", path)
    assert code == 2
    assert "3 errors" in _first_line(err)
    assert "abc" in out and "duplicated" in out


def test_warnings_only_exit_0(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("id,chatgpt_o,gemini_o,llama_o,final_o\na,1,1,1,3\n")
    code, out, _ = _run(capsys, "data", "validate", path)
    assert code == 0 and "warning" in out


def test_validate_json(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("id,chatgpt_o\na,7\n")
    code, out, _ = _run(capsys, "data", "validate", "--json", path)
    assert code == 2 and json.loads(out)["n_errors"] == 1


def test_sample_validate_info_round_trip(tmp_path, capsys):
    for kind in ("athlete", "celebrity"):
        out = tmp_path / f"{kind}.parquet"
        code, _, _ = _run(capsys, "data", "sample", "--kind", kind, "--n", 300, "--out", out)
        assert code == 0
        code, text, _ = _run(capsys, "data", "validate", out)
        assert code == 0 and "valid" in text
        code, text, _ = _run(capsys, "data", "info", out)
        assert code == 0 and "final_o" in text and "face_emb" in text
        code, text, _ = _run(capsys, "data", "info", "--json", out)
        assert code == 0 and json.loads(text)["n_rows"] == 300


def test_info_reads_dataset_folder(tmp_path, capsys):
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("card")
    code, _, _ = _run(
        capsys, "data", "sample", "--n", 50, "--out", folder / "data" / "train.parquet"
    )
    assert code == 0
    code, text, _ = _run(capsys, "data", "info", "--json", folder)
    assert code == 0 and json.loads(text)["n_rows"] == 50
    assert _run(capsys, "data", "validate", folder)[0] == 0


def test_sample_into_unwritable_place_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "data", "sample", "--n", 10, "--out", blocker / "out.csv")
    assert code == 2 and "out.csv" in _first_line(err)


def test_interrupted_sample_leaves_no_file(tmp_path, capsys, monkeypatch):
    import personax.data.table as table

    real = table.write_table

    def interrupted(df, path, **kwargs):
        if "latents" not in str(path):
            raise KeyboardInterrupt
        return real(df, path, **kwargs)

    monkeypatch.setattr(table, "write_table", interrupted)
    code, _, _ = _run(capsys, "data", "sample", "--n", 10, "--out", tmp_path / "s.parquet")
    assert code != 1
    assert list(tmp_path.iterdir()) == []


def test_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    import personax.data.sample as sample

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sample, "make_sample", interrupted)
    code, _, _ = _run(capsys, "data", "sample", "--n", 10, "--out", tmp_path / "s.parquet")
    assert code == 130


def test_info_shows_renamed_and_unrecognised(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("ID,Height(cm),Shoe size\na,180,44\n")
    code, out, _ = _run(capsys, "data", "info", path)
    assert code == 0 and "Height(cm) → height" in out and "Shoe size" in out


def test_validate_and_info_take_seed_and_ignore_it(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert _run(capsys, "data", "sample", "--n", 60, "--out", out)[0] == 0
    for command in ("validate", "info"):
        plain = _run(capsys, "data", command, "--json", out)
        seeded = _run(capsys, "data", command, "--json", "--seed", 3, out)
        assert plain[0] == seeded[0] == 0 and plain[1] == seeded[1]
    _, text, _ = _run(capsys, "data", "info", "--help")
    assert "--seed" in text and "deterministic" in text
