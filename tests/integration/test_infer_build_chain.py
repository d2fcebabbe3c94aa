"""Trait inference against a local OpenAI-compatible server, then the dataset build:
infer run -> status -> aggregate -> build -> data validate / independence / reveal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from .conftest import FAKE_SERVER, assert_bad_input, files_of, px, write_models

LLMS = ("chatgpt", "gemini", "llama")
TRAITS = "ocean"


def server_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def roster(qa_dir, athlete_csv):
    people = pd.read_csv(athlete_csv, dtype={"id": str}).head(12)
    table = people[["id", "league", "birth_year", "height", "weight"]].copy()
    table.insert(1, "name", [f"Integration Person {i}" for i in range(len(table))])
    table.insert(2, "context", people["league"])
    path = qa_dir / "roster.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(qa_dir, roster, llm_server):
    models = write_models(qa_dir / "models.toml", llm_server)
    path = qa_dir / "traits.sqlite"
    run = px("infer", "run", "--roster", roster, "--models", models, "--store", path,
             "--repeats", 2, "--seed", 0, "--quiet")  # fmt: skip
    assert run.code == 0, run.err
    return path


def test_rerun_sends_no_request_already_answered(store, roster, qa_dir, llm_server):
    before = server_stats(llm_server)
    assert sum(before.values()) == 12 * 3 * 2
    run = px("infer", "run", "--roster", roster, "--models", qa_dir / "models.toml",
             "--store", store, "--repeats", 2, "--seed", 0, "--quiet")  # fmt: skip
    assert run.code == 0, run.err
    assert server_stats(llm_server) == before


def test_status_counts_cells(store):
    run = px("infer", "status", "--store", store)
    assert run.code == 0, run.err
    assert "72 done" in run.out and "0 pending" in run.out


def test_aggregate_contract(store, qa_dir, roster):
    out = qa_dir / "traits.csv"
    run = px("infer", "aggregate", "--store", store, "--out", out)
    assert run.code == 0, run.err
    traits = pd.read_csv(out, dtype={"id": str})
    expected = (
        ["id"] + [f"{llm}_{t}" for llm in LLMS for t in TRAITS] + [f"final_{t}" for t in TRAITS]
    )
    assert set(expected) <= set(traits.columns)
    assert sorted(traits["id"]) == sorted(pd.read_csv(roster, dtype={"id": str})["id"])
    scores = traits[[c for c in expected[1:] if not c.startswith("final_")]]
    assert scores.isin([0, 1, 2, 3]).all().all()
    for t in TRAITS:
        block = traits[[f"{llm}_{t}" for llm in LLMS]].replace(0, np.nan)
        np.testing.assert_allclose(block.median(axis=1), traits[f"final_{t}"], equal_nan=True)
    again = qa_dir / "traits_again.csv"
    assert px("infer", "aggregate", "--store", store, "--out", again).code == 0
    assert again.read_bytes() == out.read_bytes()


def test_evaluate_writes_tables(store, tmp_path):
    out = tmp_path / "eval"
    run = px("infer", "evaluate", "--store", store, "--out", out)
    assert run.code == 0, run.err
    models = pd.read_csv(out / "models.csv")
    assert sorted(models["model"]) == sorted(LLMS)
    assert (models["answered"] == 24).all()
    retest = pd.read_csv(out / "retest.csv")
    assert set(retest["model"]) == set(LLMS)  # --repeats 2 gives test-retest agreement
    assert (out / "inter_model.csv").exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[[model]]\nname = "Chat GPT"\nbase_url = "http://x/v1"\nmodel = "m"\n', "name"),
        ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\ncolour = 1\n', "colour"),
        (
            '[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
            'api_key_env = "PERSONAX_QA_UNSET_KEY"\n',
            "PERSONAX_QA_UNSET_KEY",
        ),
        ("not [ toml\n", "TOML"),
    ],
    ids=["bad-name", "unknown-field", "unset-key", "syntax"],
)
def test_infer_bad_models_file(tmp_path, roster, toml, needle, monkeypatch):
    monkeypatch.delenv("PERSONAX_QA_UNSET_KEY", raising=False)
    models = tmp_path / "m.toml"
    models.write_text(toml)
    run = px("infer", "run", "--roster", roster, "--models", models,
             "--store", tmp_path / "s.sqlite")  # fmt: skip
    assert_bad_input(run, "m.toml", needle)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id,name\na,Foo\n", "context"),
        ("id,name,context\na,Foo,NBA\na,Bar,NBA\n", "'a'"),
        ("id,name,context\na,,NBA\n", "name"),
    ],
    ids=["no-context", "duplicate-id", "empty-name"],
)
def test_infer_bad_roster(tmp_path, text, needle):
    roster = tmp_path / "r.csv"
    roster.write_text(text)
    models = write_models(tmp_path / "m.toml", "http://127.0.0.1:9")
    run = px("infer", "run", "--roster", roster, "--models", models,
             "--store", tmp_path / "s.sqlite")  # fmt: skip
    assert_bad_input(run, "r.csv", needle)


def test_infer_commands_on_a_missing_or_foreign_store(tmp_path, athlete_csv):
    missing = tmp_path / "absent.sqlite"
    for args in (("status",), ("evaluate",), ("aggregate", "--out", tmp_path / "t.csv")):
        assert_bad_input(px("infer", *args, "--store", missing), "absent.sqlite")
    assert_bad_input(
        px("infer", "status", "--store", athlete_csv),
        athlete_csv.name,
        "not a personax trait store",
    )


def test_kill_9_then_rerun_finishes_without_asking_twice(tmp_path, roster):
    """A killed run keeps its answers; the rerun asks only what was not stored (at most the
    requests in flight at the kill are asked again)."""
    server = subprocess.Popen(
        [sys.executable, str(FAKE_SERVER), "--latency", "0.15"], stdout=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
        models = write_models(tmp_path / "m.toml", base)
        store = tmp_path / "s.sqlite"
        argv = ["infer", "run", "--roster", str(roster), "--models", str(models),
                "--store", str(store), "--concurrency", "1", "--repeats", "3", "--quiet"]  # fmt: skip
        child = subprocess.Popen([sys.executable, "-m", "personax", *argv])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(server_stats(base).values()) < 10:
            time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        asked_before = sum(server_stats(base).values())
        assert asked_before < 12 * 3 * 3, "the run finished before it could be killed"
        run = px(*argv)
        assert run.code == 0, run.err
        stats = server_stats(base)
        assert sum(stats.values()) <= 12 * 3 * 3 + 3  # one request in flight per model
        assert "108 done" in px("infer", "status", "--store", store).out
    finally:
        server.kill()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def dataset(qa_dir, roster, store):
    from PIL import Image

    traits = qa_dir / "traits_for_build.csv"
    assert px("infer", "aggregate", "--store", store, "--out", traits).code == 0
    images = qa_dir / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    ids = pd.read_csv(roster, dtype={"id": str})["id"]
    for person in ids[:9]:  # three people without an image
        pixels = (rng.random((24, 24, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(images / f"{person}.png")
    key = qa_dir / "key.bin"
    key.write_bytes(bytes(range(32)))
    out = qa_dir / "dataset"
    args = ("build", "--roster", roster, "--traits", traits, "--images", images, "--store", store,
            "--key-file", key, "--seed", 0)  # fmt: skip
    run = px(*args, "--out", out)
    assert run.code == 0, run.err
    assert "3 missing" in run.out
    return {"out": out, "args": args, "key": key, "roster": roster}


@pytest.mark.slow
def test_build_is_validated_private_and_reproducible(dataset, qa_dir):
    out = dataset["out"]
    assert (out / "README.md").read_text().startswith("---\n")
    files = sorted((out / "data").glob("*.parquet"))
    assert files
    assert px("data", "validate", out).code == 0
    table = pd.concat([pd.read_parquet(f) for f in files])
    roster = pd.read_csv(dataset["roster"], dtype={"id": str})
    assert len(table) == len(roster)
    assert not set(table["id"]) & set(roster["id"])  # pseudonyms, not ids
    text = table.astype(str).to_string()
    assert "Integration Person" not in text  # no names
    assert {"face_emb", "chatgpt_text_emb", "final_o"} <= set(table.columns)
    empty_faces = table["face_emb"].map(lambda v: v is None or len(v) == 0).sum()
    assert empty_faces == 3
    again = qa_dir / "dataset_again"
    assert px(*dataset["args"], "--out", again).code == 0
    assert files_of(again) == files_of(out)


@pytest.mark.slow
def test_build_folder_feeds_independence_and_reveal(dataset, tmp_path):
    out = dataset["out"]
    run = px("independence", out, "--tests", "chisq,hsic", "--out", tmp_path / "level1")
    assert run.code == 0, run.err
    results = pd.read_csv(tmp_path / "level1" / "results.csv")
    assert {"league", "height"} <= set(results["attribute"])
    revealed = tmp_path / "revealed.parquet"
    run = px("data", "reveal", out, "--key-file", dataset["key"], "--roster", dataset["roster"],
             "--out", revealed)  # fmt: skip
    assert run.code == 0, run.err
    roster = pd.read_csv(dataset["roster"], dtype={"id": str})
    assert sorted(pd.read_parquet(revealed)["id"]) == sorted(roster["id"])
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(bytes(range(1, 33)))
    assert_bad_input(
        px("data", "reveal", out, "--key-file", wrong, "--out", tmp_path / "r2.parquet"), "key"
    )


def test_build_bad_inputs(tmp_path, roster, store):
    key = tmp_path / "key.bin"
    key.write_bytes(bytes(range(32)))
    traits = tmp_path / "t.csv"
    traits.write_text("id,final_o\nx,2\n")
    out = tmp_path / "ds"
    good = {"--roster": roster, "--traits": traits, "--store": store, "--key-file": key}

    def build(**changes):
        options = {**good, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
        return px("build", *[x for pair in options.items() for x in pair], "--out", out)

    assert_bad_input(build(traits=tmp_path / "absent.csv"), "absent.csv")
    assert_bad_input(build(key_file=tmp_path / "nokey"), "nokey")
    assert_bad_input(build(images=tmp_path / "noimg"), "noimg")
    assert_bad_input(build(store=tmp_path / "no.sqlite"), "no.sqlite")
    assert_bad_input(build(roster=tmp_path / "absent_roster.csv"), "absent_roster.csv")
    assert not out.exists()


def test_unusable_answers_are_stored_not_guessed(tmp_path):
    """Fence and prose-wrapped JSON are accepted; prose without JSON, refusals and
    out-of-scale scores are answers that are never asked again and never imputed."""
    faults = {
        "Bravo": ["prose"],
        "Charlie": ["refuse"],
        "Alpha": ["fence"],
        "Delta": ["outofscale"],
    }
    server = subprocess.Popen(
        [sys.executable, str(FAKE_SERVER), "--faults", json.dumps(faults)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
        roster = tmp_path / "roster.csv"
        names = ["Alpha Fence", "Bravo Prose", "Charlie Refuse", "Delta Scale", "Echo Fine"]
        pd.DataFrame({"id": [f"r{i}" for i in range(5)], "name": names, "context": "NBA"}).to_csv(
            roster, index=False
        )
        models = write_models(tmp_path / "m.toml", base, names=("chatgpt",))
        store = tmp_path / "s.sqlite"
        argv = ("infer", "run", "--roster", roster, "--models", models, "--store", store, "--quiet")
        assert px(*argv).code == 0
        asked = sum(server_stats(base).values())
        assert asked == 5
        assert px(*argv).code == 0
        assert sum(server_stats(base).values()) == asked  # failures are answers: not re-asked
        status = px("infer", "status", "--store", store).out
        assert "2 done" in status and "3 answered unusable" in status
        out = tmp_path / "traits.csv"
        assert px("infer", "aggregate", "--store", store, "--out", out).code == 0
        traits = pd.read_csv(out, dtype={"id": str}).set_index("id")
        scores = traits[[f"chatgpt_{t}" for t in TRAITS]]
        assert scores.loc[["r0", "r4"]].notna().all().all()
        assert scores.loc[["r1", "r2", "r3"]].isna().all().all()
    finally:
        server.kill()
        server.wait(timeout=10)
