"""The store and the run loop: never lose an answer, never ask twice, never impute."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traits_helpers import make_roster

from personax.errors import BadInput
from personax.traits.client import ModelSpec
from personax.traits.prompts import get_format
from personax.traits.runner import load_roster, plan_cells, run_inference
from personax.traits.store import AnswerRecord, Cell, RequestRecord, TraitStore

FMT = get_format("number-l3-inc")


def specs(server, names=("chatgpt", "gemini"), **kw):
    options = {"timeout": 0.3, "backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 2}
    options.update(kw)
    return [ModelSpec(n, server.base_url, f"fake-{n}", **options) for n in names]


def test_roster_validation(tmp_path):
    good = tmp_path / "r.csv"
    make_roster(3).to_csv(good, index=False)
    assert list(load_roster(good)["id"]) == ["p000", "p001", "p002"]
    cases = {
        "missing.csv": ("id,name\na,Ann\n", "missing the column\\(s\\) context"),
        "dupes.csv": ("id,name,context\na,Ann,NBA\na,Bob,NFL\n", "id 'a' appears more than once"),
        "noid.csv": ("id,name,context\na,Ann,NBA\n,Bob,NFL\n", "data row 2 has an empty id"),
        "noname.csv": ("id,name,context\na,,NBA\n", "row 1 \\(id 'a'\\) has no name"),
        "empty.csv": ("id,name,context\n", "roster has no rows"),
    }
    for file, (text, message) in cases.items():
        path = tmp_path / file
        path.write_text(text)
        with pytest.raises(BadInput, match=message):
            load_roster(path)
    parquet = tmp_path / "r.parquet"
    make_roster(2).assign(context=[None, "NFL"]).to_parquet(parquet)
    assert list(load_roster(parquet)["context"]) == ["", "NFL"]
    # A numeric context with a blank reads as floats; the prompt says 2019, not 2019.0.
    years = tmp_path / "years.csv"
    years.write_text("id,name,context\na,Ann,2019\nb,Bob,\nc,Cy,2.5\n")
    assert list(load_roster(years)["context"]) == ["2019", "", "2.5"]


def test_store_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(BadInput, match="no such trait store"):
        TraitStore(tmp_path / "absent.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BadInput, match="not a personax trait store"):
        TraitStore(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BadInput, match="not a personax trait store"):
        TraitStore(other)


def _answer(levels):
    return AnswerRecord(
        "ok",
        "",
        3,
        "{}",
        "stop",
        0.1,
        10,
        20,
        levels,
        {t: str(v) for t, v in levels.items()},
        {t: f"d{t}" for t in levels},
    )


def test_record_is_atomic_and_a_cell_holds_one_answer(tmp_path):
    path = tmp_path / "s.sqlite"
    with TraitStore(path, create=True) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cell = Cell("p1", "m", FMT.version, 0)
        req = RequestRecord(0, 0.0, 0.1, 200, "ok", None, "{}", "{}")
        levels = {"o": 1, "c": 2, "e": 3, "a": 0, "n": 2}
        assert store.record(cell, [req], _answer(levels))
        assert not store.record(cell, [req], _answer({t: 1 for t in levels}))
        assert store.answered_cells() == {cell}
        df = store.answers()
        assert list(df.columns)[:8] == [
            "id",
            "model",
            "prompt_version",
            "repeat",
            "status",
            "trait",
            "score",
            "description",
        ]
        assert dict(zip(df["trait"], df["score"], strict=False)) == levels
        assert len(store.request_log()) == 1  # the refused duplicate stored nothing
        # A failing write rolls back completely: no request row without its answer.
        broken = _answer(levels)
        object.__setattr__(broken, "raw", {})  # scores cannot be written
        with pytest.raises(KeyError):
            store.record(Cell("p2", "m", FMT.version, 0), [req], broken)
        assert len(store.request_log()) == 1 and len(store.answer_log()) == 1


def test_run_fills_store_and_rerun_asks_nothing(tmp_path, llm_server):
    server = llm_server()
    roster = make_roster(6)
    path = tmp_path / "s.sqlite"
    summary = run_inference(path, roster, specs(server), FMT, repeats=2, seed=3)
    assert (summary.planned, summary.asked, summary.ok) == (24, 24, 24)
    assert set(server.counts.values()) == {2} and len(server.counts) == 12
    server.reset_counts()
    again = run_inference(path, roster, specs(server), FMT, repeats=2, seed=3)
    assert again.asked == 0 and again.already_answered == 24 and not server.counts
    with TraitStore(path) as store:
        df = store.answers()
        assert len(df) == 6 * 2 * 2 * 5
        assert store.models() == ["chatgpt", "gemini"]
        seeds = store.raw_responses()["request_json"].str.extract(r'"seed": (\d+)')[0]
        assert set(seeds.astype(int)) == {3, 4}  # --seed + repeat index
        [c1, c2] = store.cell_counts()
        assert (c1.done, c1.pending, c2.done) == (12, 0, 12)


def test_more_repeats_and_models_ask_only_the_new_cells(tmp_path, llm_server):
    server = llm_server()
    roster = make_roster(4)
    path = tmp_path / "s.sqlite"
    run_inference(path, roster, specs(server, names=("chatgpt",)), FMT, repeats=1)
    server.reset_counts()
    summary = run_inference(path, roster, specs(server), FMT, repeats=2)
    assert summary.asked == 4 * 2 * 2 - 4
    assert server.counts[f"{roster['name'][0]}|fake-chatgpt"] == 1
    assert server.counts[f"{roster['name'][0]}|fake-gemini"] == 2


def test_an_answered_id_or_model_name_cannot_change_meaning(tmp_path, llm_server):
    server = llm_server()
    roster = make_roster(3)
    path = tmp_path / "s.sqlite"
    run_inference(path, roster, specs(server, names=("chatgpt",)), FMT, repeats=1)
    renamed = roster.copy()
    renamed.loc[1, "name"] = "Somebody Else"
    with pytest.raises(BadInput, match="id 'p001' was asked about as"):
        run_inference(path, renamed, specs(server, names=("chatgpt",)), FMT, repeats=1)
    recontext = roster.copy()
    recontext.loc[0, "context"] = "a different league"
    with pytest.raises(BadInput, match="id 'p000'"):
        run_inference(path, recontext, specs(server, names=("chatgpt",)), FMT, repeats=1)
    other_model = [ModelSpec("chatgpt", server.base_url, "fake-gemini", timeout=0.3)]
    with pytest.raises(BadInput, match="model 'chatgpt' was answered by 'fake-chatgpt'"):
        run_inference(path, roster, other_model, FMT, repeats=1)
    with TraitStore(path) as store:  # nothing of the refused runs was recorded
        assert store.models() == ["chatgpt"]
        people = store.answers().drop_duplicates("id")
        assert len(people) == 3
    # A new person, a new model name and a settings change of the same model are all fine.
    more = pd.concat([roster, make_roster(4).iloc[[3]]], ignore_index=True)
    summary = run_inference(path, more, specs(server, temperature=0.5), FMT, repeats=1)
    assert summary.asked == 4 + 1


def test_faults_outcomes_are_stored_honestly(tmp_path, llm_server):
    faults = {
        "Refuse": ["refuse"],
        "Prose": ["prose"],
        "Scale": ["outofscale"],
        "Filter": ["filter"],
        "Fence": ["fence"],
        "Dead": ["500"] * 100,
        "Slow": ["429", "hang", "drop", "garbage"],
    }
    server = llm_server(faults=faults)
    tags = {i: tag for i, tag in enumerate(faults)}
    roster = make_roster(len(faults) + 2, special=tags)
    path = tmp_path / "s.sqlite"
    models = specs(server, names=("chatgpt",), max_retries=4, timeout=0.2)
    summary = run_inference(path, roster, models, FMT)
    assert (summary.ok, summary.refusal, summary.format_failure, summary.error) == (4, 2, 2, 1)
    with TraitStore(path) as store:
        log = store.answer_log().set_index("id")
        assert log.loc["p000", "status"] == "refusal" and log.loc["p003", "status"] == "refusal"
        assert log.loc["p001", "status"] == log.loc["p002", "status"] == "format_failure"
        assert "p005" not in log.index  # no answer for the dead cell: nothing imputed
        assert log.loc["p006", "attempts"] == 5
        assert store.answers()["id"].isin(["p000", "p001", "p002", "p003", "p005"]).sum() == 0
        requests = store.request_log()
        assert (requests["id"] == "p005").sum() == 5
        counts = store.cell_counts()[0]
        assert (counts.done, counts.failed, counts.errored, counts.pending) == (4, 4, 1, 0)
    # A re-run retries only the errored cell (it has no answer); answered failures stay.
    server.reset_counts()
    again = run_inference(path, roster, models, FMT)
    assert again.asked == 1 and list(server.counts) == [f"{roster['name'][5]}|fake-chatgpt"]


def test_api_key_never_reaches_the_store(tmp_path, llm_server):
    key = "sk-live-" + "Q" * 30
    server = llm_server(faults={"Echo": ["echo-auth"], "Err": ["401"]})
    roster = make_roster(3, special={0: "Echo", 1: "Err"})
    path = tmp_path / "s.sqlite"
    run_inference(path, roster, specs(server, api_key=key), FMT)
    assert f"Bearer {key}" in server.auth_headers
    for file in tmp_path.iterdir():
        assert key.encode() not in file.read_bytes(), file
    with TraitStore(path) as store:
        assert store.request_log()["error"].dropna().str.contains("HTTP 401").any()


def test_concurrent_runs_on_one_store_are_refused(tmp_path, llm_server):
    from personax.traits.runner import _StoreLock

    path = tmp_path / "s.sqlite"
    with _StoreLock(path):
        with pytest.raises(BadInput, match="another `personax infer run`"):
            run_inference(path, make_roster(1), specs(llm_server()), FMT)


def test_a_run_through_a_symlink_meets_the_same_lock(tmp_path, llm_server):
    # the lock was named after the path as given, so two runs asked (and paid for) every cell
    from personax.traits.runner import _StoreLock

    path = tmp_path / "s.sqlite"
    run_inference(path, make_roster(1), specs(llm_server()), FMT)
    link = tmp_path / "link.sqlite"
    link.symlink_to(path)
    with _StoreLock(path):
        with pytest.raises(BadInput, match="another `personax infer run`"):
            run_inference(link, make_roster(2), specs(llm_server()), FMT)


def test_replies_received_before_a_stop_are_all_stored(tmp_path, llm_server, monkeypatch):
    # Ctrl-C (or any failure) cancelled the commits still queued for the writer thread, so
    # answers already received were lost and asked (and paid for) again on the next run.
    import time

    import personax.traits.runner as runner

    received = {"n": 0}
    real_classify, real_record = runner.classify, TraitStore.record

    def counting_classify(completion, fmt):
        received["n"] += completion.ok
        return real_classify(completion, fmt)

    def slow_record(self, cell, requests, answer):
        time.sleep(0.05)  # replies queue up behind the one writer
        return real_record(self, cell, requests, answer)

    def stop_after_three(result):
        if stop_after_three.seen == 3:
            raise RuntimeError("stop")
        stop_after_three.seen += 1

    stop_after_three.seen = 0
    monkeypatch.setattr(runner, "classify", counting_classify)
    monkeypatch.setattr(TraitStore, "record", slow_record)
    path = tmp_path / "s.sqlite"
    server = llm_server()
    with pytest.raises(RuntimeError, match="stop"):
        run_inference(
            path, make_roster(30), specs(server, concurrency=4), FMT, progress=stop_after_three
        )
    with TraitStore(path) as store:
        stored = len(store.answered_cells())
    assert received["n"] > 4  # replies were waiting for the writer when the run stopped
    assert stored == received["n"]


def test_plan_and_arguments(tmp_path, llm_server):
    cells = plan_cells(make_roster(2), specs(llm_server()), FMT, 3)
    assert len(cells) == 12 and len(set(cells)) == 12
    with pytest.raises(BadInput, match="--repeats"):
        run_inference(tmp_path / "s.sqlite", make_roster(1), [], FMT, repeats=0)
    with pytest.raises(BadInput, match="--concurrency"):
        run_inference(tmp_path / "s.sqlite", make_roster(1), [], FMT, concurrency=0)


def test_answers_filter_by_prompt_version(tmp_path, llm_server):
    server = llm_server()
    path = tmp_path / "s.sqlite"
    run_inference(path, make_roster(2), specs(server), FMT)
    run_inference(path, make_roster(2), specs(server), get_format("text-l5-exc"))
    with TraitStore(path) as store:
        assert len(store.prompt_versions()) == 2
        l5 = store.answers(get_format("text-l5-exc").version)
        assert set(l5["scale"]) == {5} and l5["score"].between(1, 5).all()
        assert len(store.answers()) == 2 * len(l5)
        assert isinstance(store.people(), pd.DataFrame)


def test_a_failing_store_write_stops_the_run_and_keeps_earlier_answers(
    tmp_path, llm_server, monkeypatch
):
    server = llm_server(latency=0.01)
    path = tmp_path / "s.sqlite"
    real_record = TraitStore.record
    calls = {"n": 0}

    def flaky_record(self, cell, requests, answer):
        calls["n"] += 1
        if calls["n"] == 6:
            raise sqlite3.OperationalError("disk I/O error")
        return real_record(self, cell, requests, answer)

    monkeypatch.setattr(TraitStore, "record", flaky_record)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        run_inference(path, make_roster(20), specs(server, concurrency=2), FMT)
    monkeypatch.undo()
    with TraitStore(path) as store:
        kept = len(store.answered_cells())
        assert 5 <= kept < 40  # the answers committed before the failure, no more
    server.reset_counts()
    summary = run_inference(path, make_roster(20), specs(server), FMT)
    assert summary.asked == 40 - kept and sum(server.counts.values()) == 40 - kept


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3"]),
            st.sampled_from(["m1", "m2"]),
            st.integers(0, 1),
            st.sampled_from(["ok", "format_failure", "refusal", None]),
        ),
        max_size=25,
    )
)
def test_store_keeps_the_first_answer_of_every_cell(tmp_path_factory, events):
    path = tmp_path_factory.mktemp("prop") / "s.sqlite"
    expected: dict[tuple, str] = {}
    with TraitStore(path, create=True) as store:
        req = RequestRecord(0, 0.0, 0.1, 200, "ok", None, "{}", "{}")
        for pid, model, repeat, status in events:
            cell = Cell(pid, model, FMT.version, repeat)
            if status is None:  # an errored request: logged, no answer
                assert store.record(cell, [req], None)
                continue
            levels = {t: 2 for t in "ocean"} if status == "ok" else {}
            answer = AnswerRecord(
                status, "", 3, "{}", "stop", 0.1, 1, 1, levels,
                {t: "2" for t in levels}, {t: "" for t in levels},
            )  # fmt: skip
            stored = store.record(cell, [req], answer)
            assert stored == (cell not in expected)
            expected.setdefault(cell, status)
        assert store.answered_cells() == set(expected)
        ok_cells = {c for c, s in expected.items() if s == "ok"}
        assert len(store.answers()) == 5 * len(ok_cells)
        assert len(store.request_log()) == sum(1 for e in events if e[3] is None) + len(expected)


def test_foreign_and_empty_files_are_left_untouched(tmp_path):
    from personax.cli.main import main

    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(BadInput, match="not a personax trait store \\(it holds the table 't'\\)"):
        TraitStore(foreign, create=True)
    roster = make_roster(1)
    with pytest.raises(BadInput, match="not a personax trait store"):
        run_inference(foreign, roster, [], get_format("number-l3-inc"))
    assert foreign.read_bytes() == before  # no personax tables, still not WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.sqlite"]  # no lock file
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(["infer", "status", "--store", str(empty)]) == 2
    assert empty.stat().st_size == 0
    with TraitStore(empty, create=True):  # a run may make an empty file its store
        pass
