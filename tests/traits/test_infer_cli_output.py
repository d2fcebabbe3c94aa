"""`personax infer status|evaluate` output in a narrow terminal, and `--seed` on every command."""

from __future__ import annotations

import pytest
from traits_helpers import make_roster, write_models

from personax.cli.main import main

LONG_NAMES = ("gpt-4o-mini-2024-07-18", "meta-llama-3-1-8b-instruct-turbo")


@pytest.fixture
def store(tmp_path, llm_server, capsys, monkeypatch):
    server = llm_server()
    roster = tmp_path / "roster.csv"
    make_roster(6).to_csv(roster, index=False)
    models = write_models(tmp_path / "models.toml", server, names=LONG_NAMES, api_key_env="PX_K")
    path = tmp_path / "s.sqlite"
    monkeypatch.setenv("PX_K", "sk-narrow-" + "z" * 20)
    args = ["infer", "run", "--roster", roster, "--models", models, "--store", path]
    assert main([str(a) for a in [*args, "--repeats", "2", "--quiet"]]) == 0
    monkeypatch.delenv("PX_K")
    capsys.readouterr()
    return path


@pytest.mark.parametrize(
    "command, headers",
    [
        ("status", ("model", "prompt", "planned", "done", "failed", "errored", "pending")),
        ("evaluate", ("asked", "refusal", "insuff", "out tok", "alpha_ordinal", "icc_2_1")),
    ],
)
def test_tables_stay_readable_at_80_columns(store, monkeypatch, capsys, command, headers):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["infer", command, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    drawn = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert all(len(line) <= 80 for line in drawn), out  # tables fit; plain rows may run on
    for header in headers:  # whole, not spread over lines one letter each
        assert header in out, out
    if command == "status":
        assert "┃ model" in out and "total: 24 done" in out  # fits: still a rich table


def test_wide_terminal_keeps_the_rich_table(store, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["infer", "evaluate", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "plain layout" not in out and "┃ model" in out and LONG_NAMES[1] in out


def test_every_infer_read_command_takes_seed(store, tmp_path, capsys):
    for args in (
        ["status"],
        ["evaluate"],
        ["aggregate", "--out", str(tmp_path / "traits.csv")],
    ):
        assert main(["infer", *args, "--store", str(store), "--seed", "3"]) == 0, args
    assert (tmp_path / "traits.csv").is_file()
