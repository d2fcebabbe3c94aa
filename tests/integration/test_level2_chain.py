"""Level II chain: crl-synthetic -> crl train -> discover / crl explain; bench crl."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from .conftest import CRL_FAST, assert_bad_input, files_of, px


def test_crl_synthetic_format_and_bytes(tabular_npz, qa_dir):
    data = np.load(tabular_npz)
    keys = set(data.files)
    assert {"m1.0", "m1.1", "m1.2", "m2.0", "latents", "latent_names", "graph"} <= keys
    n = data["m1.0"].shape[0]
    assert n == 200 and all(data[k].shape[0] == n for k in ("m1.1", "m1.2", "m2.0", "latents"))
    names = list(data["latent_names"])
    assert names[:4] == ["z11", "z12", "z21", "z22"]
    graph = data["graph"]
    assert graph.shape == (len(names), len(names))
    index = {name: i for i, name in enumerate(names)}
    # the paper's graph: Z11 -> Z12, Z11 -> Z21, Z21 -> Z22 ([i, j] = 1 when j causes i)
    for cause, effect in (("z11", "z12"), ("z11", "z21"), ("z21", "z22")):
        assert graph[index[effect], index[cause]] == 1
    again = qa_dir / "tabular_again.npz"
    run = px("data", "crl-synthetic", "--benchmark", "tabular", "--n", 200, "--seed", 0,
             "--shared-dims", 1, "--out", again)  # fmt: skip
    assert run.code == 0 and again.read_bytes() == tabular_npz.read_bytes()


def test_crl_train_outputs_contract(crl_run):
    latents = pd.read_csv(crl_run / "latents.csv")
    assert list(latents.columns) == ["split", "s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    assert len(latents) == 200  # one row per input row
    assert set(latents["split"]) == {"train", "val", "test"}
    metrics = json.loads((crl_run / "metrics.json").read_text())
    assert metrics["split"] == "test"
    assert isinstance(metrics["mcc"], float) and 0 <= metrics["mcc"] <= 1
    assert isinstance(metrics["r2"], float) and 0 <= metrics["r2"] <= 1
    graph = json.loads((crl_run / "graph.json").read_text())
    assert graph["nodes"] == ["s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    assert (crl_run / "model.pt").stat().st_size > 0


def test_crl_train_same_seed_same_latents(crl_run, qa_dir, tabular_npz):
    out = qa_dir / "crl_run_again"
    run = px("crl", "train", tabular_npz, "--latent-dims", "m1=2,m2=2", "--shared-dims", 1,
             *CRL_FAST, "--out", out)  # fmt: skip
    assert run.code == 0, run.err
    for name in ("latents.csv", "graph.json", "model.pt", "config.json"):
        assert (out / name).read_bytes() == (crl_run / name).read_bytes(), name
    first = json.loads((crl_run / "metrics.json").read_text())
    second = json.loads((out / "metrics.json").read_text())
    assert (first["mcc"], first["r2"]) == (second["mcc"], second["r2"])


@pytest.mark.parametrize(
    ("dims", "needle"),
    [
        ("m1=2", "m2"),
        ("m1=2,m3=2", "m3"),
        ("m1=x,m2=2", "m1=x"),
        ("m1=0,m2=2", "m1=0"),
        ("m1=2,m2=2,m2=3", "m2"),
        ("m1:2,m2=2", "m1:2"),
    ],
)
def test_crl_train_wrong_latent_dims(tabular_npz, tmp_path, dims, needle):
    out = tmp_path / "run"
    run = px("crl", "train", tabular_npz, "--latent-dims", dims, "--epochs", 1, "--out", out)
    assert_bad_input(run, needle)
    assert not out.exists()


def test_crl_train_bad_data_files(athlete_csv, tmp_path):
    assert_bad_input(
        px(
            "crl", "train", tmp_path / "absent.npz", "--latent-dims", "a=1", "--out", tmp_path / "o"
        ),
        "absent.npz",
    )
    assert_bad_input(
        px("crl", "train", athlete_csv, "--latent-dims", "a=1", "--out", tmp_path / "o"),
        athlete_csv.name,
    )
    assert not (tmp_path / "o").exists()


def test_discover_on_crl_latents(crl_run, tmp_path):
    out = tmp_path / "graph"
    run = px("discover", crl_run / "latents.csv", "--columns", "s_0,z_m1_0,z_m1_1,z_m2_0,z_m2_1",
             "--roots", "s_0", "--forbid", "z_m1_0>z_m2_0,z_m2_0>z_m1_0", "--seed", 0,
             "--out", out)  # fmt: skip
    assert run.code == 0, run.err
    graph = json.loads((out / "graph.json").read_text())
    assert graph["nodes"] == ["s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    for edge in graph["edges"]:
        assert set(edge) >= {"source", "target", "type"}
        assert edge["type"] in {"directed", "undirected", "bidirected"}
        assert {edge["source"], edge["target"]} <= set(graph["nodes"])
        # background knowledge holds: nothing points into the root ...
        assert edge["target"] != "s_0" or edge["type"] == "directed" and edge["source"] == "s_0"
        if edge["source"] == "s_0" or edge["target"] == "s_0":
            assert edge["type"] == "directed" and edge["source"] == "s_0"
        # ... and the adjacency forbidden both ways is absent
        assert {edge["source"], edge["target"]} != {"z_m1_0", "z_m2_0"}
    for name in ("graph.png", "graph.svg"):
        assert (out / name).stat().st_size > 0


def test_discover_defaults_split_and_same_bytes(crl_run, tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        run = px("discover", crl_run / "latents.csv", "--split", "test", "--test", "rcit",
                 "--seed", 4, "--out", out)  # fmt: skip
        assert run.code == 0, run.err
    graph = json.loads((outs[0] / "graph.json").read_text())
    # default columns: every numeric column except id and split
    assert graph["nodes"] == ["s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    assert files_of(outs[0]) == files_of(outs[1])


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--forbid", "z_m1_0-z_m1_1"], "z_m1_0-z_m1_1"),
        (["--forbid", "z_m1_0>"], "z_m1_0>"),
        (["--forbid", "a>b"], "'a'"),
        (["--forbid", "z_m1_0>z_m1_0"], "z_m1_0"),
        (["--roots", "nosuch"], "nosuch"),
        (["--columns", "z_m1_0,nosuch"], "nosuch"),
        (["--columns", "z_m1_0"], "2 columns"),
        (["--test", "foo"], "foo"),
        (["--split", "nosplit"], "nosplit"),
        (["--alpha", "0"], "alpha"),
        (["--roots", "z_m1_0", "--require", "z_m1_1>z_m1_0"], "z_m1_0"),
    ],
)
def test_discover_bad_input(crl_run, tmp_path, options, needle):
    out = tmp_path / "graph"
    assert_bad_input(px("discover", crl_run / "latents.csv", *options, "--out", out), needle)
    assert not out.exists()


def test_discover_rejects_missing_text_and_constant_values(tmp_path):
    table = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    df = pd.DataFrame({"a": x, "b": x + rng.normal(size=50), "c": np.ones(50),
                       "d": ["u"] * 50, "e": x.copy()})  # fmt: skip
    df.loc[4, "e"] = np.nan
    df.to_csv(table, index=False)
    for columns, needle in (("a,c", "'c'"), ("a,d", "'d'"), ("a,e", "'e'")):
        assert_bad_input(
            px("discover", table, "--columns", columns, "--out", tmp_path / "o"), needle
        )


def test_crl_explain_on_train_latents(crl_run, qa_dir, tmp_path):
    # crl train writes one row per input row in input order: a table of the same length
    # joins by row order
    rng = np.random.default_rng(0)
    table = qa_dir / "explain_table.csv"
    truth = np.load(qa_dir / "tabular.npz")["latents"]
    pd.DataFrame({"final_o": rng.integers(1, 4, 200), "true_z11": truth[:, 0]}).to_csv(
        table, index=False
    )
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        run = px("crl", "explain", crl_run / "latents.csv", "--table", table, "--split", "test",
                 "--seed", 0, "--out", out)  # fmt: skip
        assert run.code == 0, run.err
    labels = pd.read_csv(outs[0] / "labels.csv")
    assert list(labels["latent"]) == ["s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    explain = pd.read_csv(outs[0] / "explain.csv")
    assert set(explain["feature"]) == {"final_o", "true_z11"}
    assert (explain["n"] == 30).all()  # the 15 % test split of 200 rows
    assert files_of(outs[0]) == files_of(outs[1])


def test_crl_explain_row_count_mismatch(crl_run, athlete_csv, tmp_path):
    out = tmp_path / "o"
    run = px("crl", "explain", crl_run / "latents.csv", "--table", athlete_csv, "--out", out)
    assert_bad_input(run, "latents.csv", athlete_csv.name)
    assert not out.exists()


def test_crl_explain_needs_latent_columns(athlete_csv, tmp_path):
    run = px("crl", "explain", athlete_csv, "--table", athlete_csv, "--out", tmp_path / "o")
    assert_bad_input(run, "latent")


def test_bench_crl_tiny(tmp_path):
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "bench"
    run = px("bench", "crl", "--benchmark", "tabular", "--methods", "betavae,mcl", "--seeds", 0,
             "--n", 200, "--epochs", 1, "--out", out)  # fmt: skip
    assert run.code == 0, run.err
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:6]) == ["benchmark", "method", "seed", "r2", "mcc", "seconds"]
    assert list(results["method"]) == ["betavae", "mcl"]
    assert set(results["benchmark"]) == {"tabular"} and set(results["seed"]) == {0}
    assert results["mcc"].between(0, 1).all() and results["r2"].between(0, 1).all()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--methods", "foo"], "foo"),
        (["--seeds", "x"], "x"),
        (["--benchmark", "foo"], "foo"),
    ],
)
def test_bench_crl_bad_options(tmp_path, options, needle):
    out = tmp_path / "bench"
    run = px("bench", "crl", "--n", 200, "--epochs", 1, *options, "--out", out)
    assert_bad_input(run, needle)
    assert not out.exists()
