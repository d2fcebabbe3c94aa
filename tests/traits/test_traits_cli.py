"""`personax infer ...` end to end, including a run killed midway and resumed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest
from traits_helpers import make_roster, write_models

from personax.cli.main import main
from personax.traits.prompts import get_format
from personax.traits.store import TraitStore


def test_run_status_aggregate_evaluate(tmp_path, llm_server, capsys, monkeypatch):
    server = llm_server(faults={"Refuse": ["refuse"] * 4})
    roster = tmp_path / "roster.csv"
    make_roster(8, special={2: "Refuse"}).to_csv(roster, index=False)
    models = write_models(tmp_path / "models.toml", server, api_key_env="PX_TEST_KEY")
    store = tmp_path / "s.sqlite"
    monkeypatch.setenv("PX_TEST_KEY", "sk-cli-" + "z" * 20)
    args = ["infer", "run", "--roster", roster, "--models", models, "--store", store]
    assert main([str(a) for a in [*args, "--repeats", "2", "--quiet"]]) == 0
    monkeypatch.delenv("PX_TEST_KEY")
    out = capsys.readouterr().out
    assert "32 cells planned" in out and "28 ok" in out and "4 refusals" in out
    assert main(["infer", "status", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "28 done, 4 failed" in out and "0 pending of 32 cells" in out
    traits = tmp_path / "traits.csv"
    assert main(["infer", "aggregate", "--store", str(store), "--out", str(traits)]) == 0
    # The store holds every paid answer: a table written over it is refused, the store kept.
    before = store.read_bytes()
    assert main(["infer", "aggregate", "--store", str(store), "--out", str(store)]) == 2
    assert f"--out {store} would overwrite {store}" in capsys.readouterr().err
    assert store.read_bytes() == before
    table = pd.read_csv(traits, dtype={"id": str})
    assert list(table.columns[:6]) == [
        "id",
        "chatgpt_o",
        "chatgpt_c",
        "chatgpt_e",
        "chatgpt_a",
        "chatgpt_n",
    ]
    assert table.loc[2, ["chatgpt_o", "gemini_o", "final_o"]].isna().all()  # refused: empty
    assert table.drop(index=2)["chatgpt_o"].between(0, 3).all()
    evaluation = tmp_path / "ev"
    assert main(["infer", "evaluate", "--store", str(store), "--out", str(evaluation)]) == 0
    assert "Inter-model agreement" in capsys.readouterr().out
    names = sorted(p.name for p in evaluation.iterdir() if not p.name.startswith("."))
    assert names == ["evaluation.png", "formats.csv", "inter_model.csv", "models.csv", "retest.csv"]
    assert pd.read_csv(evaluation / "models.csv")["refusal_rate"].tolist() == [0.125, 0.125]


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: ["--roster", d / "bad_roster.csv"], "missing the column(s) context"),
        (lambda d: ["--models", d / "nokey.toml"], "names the environment variable PX_ABSENT_KEY"),
        (lambda d: ["--prompt", "number-l4-inc"], "unknown prompt format 'number-l4-inc'"),
        (lambda d: ["--repeats", "0"], "--repeats must be from 1 to 1000 (got 0)"),
        # A huge count used to build a plan of every cell in memory before any check.
        (lambda d: ["--repeats", "1000000000"], "--repeats must be from 1 to 1000"),
        (lambda d: ["--store", d / "key" / "s.sqlite"], "key is a file, not a folder"),
    ],
)
def test_run_bad_input_exits_2(tmp_path, llm_server, capsys, make_input, message):
    server = llm_server()
    (tmp_path / "bad_roster.csv").write_text("id,name\na,Ann\n")
    (tmp_path / "key").write_bytes(b"k" * 32)
    write_models(tmp_path / "nokey.toml", server, api_key_env="PX_ABSENT_KEY")
    roster = tmp_path / "roster.csv"
    make_roster(2).to_csv(roster, index=False)
    base = {
        "--roster": roster,
        "--models": write_models(tmp_path / "m.toml", server),
        "--store": tmp_path / "s.sqlite",
    }
    extra = make_input(tmp_path)
    if extra[0] in base:
        base[extra[0]] = extra[1]
        extra = []
    args = ["infer", "run"] + [str(x) for kv in base.items() for x in kv] + [str(x) for x in extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "message"),
    [("--repeats", "--repeats must be from 1 to 1000 (got 0)"),
     ("--concurrency", "--concurrency must be at least 1 (got 0)")],
)  # fmt: skip
def test_a_bad_count_is_refused_before_the_progress_bar(tmp_path, capsys, option, message):
    # the bar "asking … 0/?" was drawn first; nothing is read or asked before this check
    args = ["infer", "run", "--roster", str(tmp_path / "r.csv"), "--models",
            str(tmp_path / "m.toml"), "--store", str(tmp_path / "s.sqlite"), option, "0"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"personax: error: {message}.\n"
    assert not (tmp_path / "s.sqlite").exists()


def test_read_commands_on_missing_store_exit_2(tmp_path, capsys):
    for command in (["status"], ["evaluate"], ["aggregate", "--out", str(tmp_path / "t.csv")]):
        assert main(["infer", *command, "--store", str(tmp_path / "absent.sqlite")]) == 2
        assert "no such trait store" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def _answered(store_path) -> int:
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # the run has not created the tables yet
        return 0
    finally:
        db.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_run_resumes_without_asking_again(tmp_path, llm_server, sig):
    # 0.1 s per answer: the whole plan takes about 4 s, so even on a loaded machine the signal
    # lands midway (with 0.03 s a slow poll loop once let the run finish first).
    server = llm_server(latency=0.1)
    roster = tmp_path / "roster.csv"
    people = make_roster(60)
    people.to_csv(roster, index=False)
    models = write_models(tmp_path / "m.toml", server, concurrency=3)
    store = tmp_path / "s.sqlite"
    command = [
        sys.executable, "-m", "personax", "infer", "run", "--roster", str(roster),
        "--models", str(models), "--store", str(store), "--quiet",
    ]  # fmt: skip
    planned = 60 * 2
    # A process started in the background by a non-interactive shell (as CI jobs may be)
    # inherits SIGINT as *ignored*, and Python then keeps ignoring it; give the child the
    # default disposition so that the SIGINT case tests what Ctrl-C does.
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if store.exists() and _answered(store) >= 15:
            break
        time.sleep(0.01)
    child.send_signal(sig)
    _, err = child.communicate(timeout=30)
    # SIGTERM unwinds like Ctrl-C (it used to kill the process outright), with its own code
    expected = {signal.SIGKILL: -signal.SIGKILL, signal.SIGINT: 130, signal.SIGTERM: 143}
    assert child.returncode == expected[sig], err
    if sig == signal.SIGTERM:
        assert b"personax: terminated." in err
    answered_at_kill = _answered(store)
    assert 15 <= answered_at_kill < planned  # killed midway

    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with TraitStore(store) as s:
        stored = {(c.id, c.model) for c in s.answered_cells()}
    assert len(stored) == answered_at_kill

    server.reset_counts()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{answered_at_kill} already answered" in rerun.stdout
    name_to_id = dict(zip(people["name"], people["id"], strict=True))
    asked_again = [(name_to_id[name], model.removeprefix("fake-")) for name, model, _ in server.log]
    assert not set(asked_again) & stored  # nothing stored was requested again
    assert len(asked_again) == planned - answered_at_kill == len(set(asked_again))
    with TraitStore(store) as s:
        assert len(s.answered_cells(get_format("number-l3-inc").version)) == planned
        assert all(c.pending == 0 and c.done == 60 for c in s.cell_counts())


def test_same_inputs_give_the_same_traits_bytes(tmp_path, llm_server, capsys):
    server = llm_server()
    roster = tmp_path / "roster.parquet"
    make_roster(12).to_parquet(roster)
    models = write_models(tmp_path / "m.toml", server, names=("chatgpt", "gemini", "llama"))
    outputs = []
    for run in ("a", "b"):
        store = tmp_path / f"{run}.sqlite"
        common = ["--roster", roster, "--models", models, "--store", store, "--quiet"]
        assert main(["infer", "run", *map(str, common), "--repeats", "3", "--seed", "7"]) == 0
        out = tmp_path / f"{run}.csv"
        assert main(["infer", "aggregate", "--store", str(store), "--out", str(out)]) == 0
        outputs.append(out.read_bytes())
        parquet = tmp_path / f"{run}.parquet"
        assert main(["infer", "aggregate", "--store", str(store), "--out", str(parquet)]) == 0
        assert pd.read_parquet(parquet).shape == (12, 1 + 15 + 5)
    assert outputs[0] == outputs[1]
    from personax.data import validate_table

    report = validate_table(tmp_path / "a.csv")
    assert report.ok and report.n_warnings == 0, report.summary()


def test_a_run_that_leaves_cells_without_an_answer_exits_1(tmp_path, llm_server, capsys):
    # Every call for one person is refused with 401: the store is incomplete, and a script
    # must see it; the other answers are kept and a re-run asks only for the missing ones.
    server = llm_server(faults={"Locked": ["401"] * 100})
    roster = tmp_path / "roster.csv"
    make_roster(4, special={1: "Locked"}).to_csv(roster, index=False)
    models = write_models(tmp_path / "models.toml", server)
    store = tmp_path / "s.sqlite"
    args = ["infer", "run", "--roster", roster, "--models", models, "--store", store, "--quiet"]
    assert main([str(a) for a in args]) == 1
    captured = capsys.readouterr()
    assert "6 ok" in captured.out and "2 errors" in captured.out
    assert "re-run the same command to retry only those" in captured.err
    server.faults.clear()
    assert main([str(a) for a in args]) == 0
    assert "6 already answered; asked 2: 2 ok" in capsys.readouterr().out


def test_a_store_that_is_not_a_trait_store_gets_one_sentence_and_no_bar(
    tmp_path, llm_server, capsys, monkeypatch
):
    # The bar "asking … 0/?" was drawn before the store was opened and found to be a CSV.
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("FORCE_COLOR", "1")  # draw bars even though stderr is captured
    roster = tmp_path / "r.csv"
    make_roster(3).to_csv(roster, index=False)
    models = write_models(tmp_path / "m.toml", llm_server())
    before = roster.read_bytes()
    args = [
        "infer",
        "run",
        "--roster",
        str(roster),
        "--models",
        str(models),
        "--store",
        str(roster),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        err == f"personax: error: {roster}: not a personax trait store (file is not a database).\n"
    )
    assert roster.read_bytes() == before
