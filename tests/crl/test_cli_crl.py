"""`personax crl train` and `personax bench crl`: outputs and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from personax.cli.main import main
from personax.crl.dataset import save_crl_dataset
from personax.data.crl_synthetic import make_tabular

torch.set_num_threads(1)
FAST = ["--epochs", "2", "--batch-size", "64"]


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("crl") / "tab.npz"
    save_crl_dataset(make_tabular(200, seed=0), path)
    return path


def test_train_writes_the_run_folder(npz, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    latents = pd.read_csv(out / "latents.csv")
    assert list(latents.columns) == ["split", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    assert set(latents["split"]) == {"train", "val", "test"} and len(latents) == 200
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and 0 <= metrics["mcc"] <= 1
    for name in ("graph.json", "model.pt", "config.json", "training_curves.png"):
        assert (out / name).exists()
    printed = capsys.readouterr().out
    assert "held-out test MCC" in printed and "restart" in printed and "of 3 kept" in printed


@pytest.mark.parametrize(
    ("dims", "needle"),
    [
        ("m1=2", "m2"),  # a modality without a size
        ("m1=2,m2=2,m3=1", "m3"),  # a modality the data do not have
        ("m1=two,m2=2", "m1=two"),  # not a number
        ("m1=0,m2=2", "m1=0"),  # not positive
    ],
)
def test_wrong_latent_dims_exit_2(npz, tmp_path, capsys, dims, needle):
    code = main(["crl", "train", str(npz), "--latent-dims", dims, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_crl_files_exit_2(tmp_path, capsys):
    missing = tmp_path / "absent.npz"
    assert main(["crl", "train", str(missing), "--latent-dims", "a=1", "--out", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err

    unequal = tmp_path / "unequal.npz"
    np.savez(unequal, **{"a.0": np.zeros((10, 3)), "a.1": np.zeros((9, 3))})
    assert main(["crl", "train", str(unequal), "--latent-dims", "a=1", "--out", str(tmp_path)]) == 2
    assert "a.1" in capsys.readouterr().err

    nan = tmp_path / "nan.npz"
    x = np.ones((10, 3))
    x[4, 1] = np.nan
    np.savez(nan, **{"a.0": x})
    assert main(["crl", "train", str(nan), "--latent-dims", "a=1", "--out", str(tmp_path)]) == 2
    assert "row 4" in capsys.readouterr().err


def test_bad_training_options_exit_2(npz, tmp_path, capsys):
    args = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--out", str(tmp_path / "o")]
    assert main([*args, "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert main([*args, "--method", "pca"]) == 2
    assert "pca" in capsys.readouterr().err
    assert main([*args, "--restarts", "0"]) == 2
    assert "restarts" in capsys.readouterr().err
    for beta in ("-1", "nan"):
        assert main([*args, "--beta", beta]) == 2
        err = capsys.readouterr().err
        assert "beta must be a finite number >= 0" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_train_says_which_latents_it_did_not_recover(npz, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--latent-dims", "m1=2,m2=2", "--out", str(out), "--restarts", "1"]
    assert main(["crl", "train", str(npz), *args, *FAST]) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    readings = json.loads((out / "metrics.json").read_text())["recovery"]["latents"]
    assert [item["latent"] for item in readings] == ["z11", "z12", "z21", "z22"]
    missed = [item["latent"] for item in readings if item["reading"] != "recovered"]
    assert missed  # two epochs on 200 rows recover nothing well
    line = next(text for text in said.splitlines() if text.startswith("not recovered"))
    assert all(name in line for name in missed)


def test_restarts_and_beta_flags_reach_the_saved_config(npz, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--latent-dims", "m1=2,m2=2", "--out", str(out), "--restarts", "1", "--beta", "4"]
    assert main(["crl", "train", str(npz), *args, *FAST]) == 0, capsys.readouterr().err
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["restarts"] == 1 and saved["beta"] == 4.0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["restart_val_losses"]) == 1
    assert "restart 1 of" not in capsys.readouterr().out  # one start: nothing to choose


def test_bench_writes_results_and_summary(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(
        [
            "bench",
            "crl",
            "--benchmark",
            "tabular",
            "--methods",
            "personax,betavae",
            "--seeds",
            "0,1",
            "--n",
            "150",
            "--epochs",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:6]) == ["benchmark", "method", "seed", "r2", "mcc", "seconds"]
    assert len(results) == 4 and set(results["method"]) == {"personax", "betavae"}
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["method"]) == {"personax", "betavae"}
    assert (summary["runs"] == 2).all()


def test_bench_with_shared_latents_scores_every_method_on_all_five(tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["bench", "crl", "--benchmark", "tabular", "--methods", "personax,betavae,mmcrl,mcl"]
    args += ["--seeds", "0", "--n", "150", "--epochs", "2", "--shared-dims", "1"]
    code = main([*args, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "MCC (z only)" in captured.out
    results = pd.read_csv(out / "results.csv").set_index("method")
    assert (results["shared_dims"] == 1).all()
    # Methods with no shared latent have four estimates for five true latents, so one true
    # latent counts 0: MCC ≤ 4/5, and at least 4/5 of the modality latents' own MCC (the
    # matching over all five may pair an estimate with s instead).
    for method in ("mmcrl", "mcl"):
        row = results.loc[method]
        assert 0.8 * row["mcc_modalities"] - 1e-9 <= row["mcc"] <= 0.8 + 1e-9
    assert results[["mcc", "mcc_modalities", "r2"]].notna().all().all()
    summary = pd.read_csv(out / "summary.csv").set_index("method")
    assert summary.loc["mcl", "mcc_modalities_mean"] == pytest.approx(
        results.loc["mcl", "mcc_modalities"]
    )


@pytest.mark.parametrize(("benchmark", "value"), [("tabular", "-1"), ("variant-mnist", "2")])
def test_bench_impossible_shared_dims_exit_2(tmp_path, capsys, benchmark, value):
    out = tmp_path / "b"
    args = ["bench", "crl", "--benchmark", benchmark, "--n", "60", "--epochs", "1"]
    assert main([*args, "--shared-dims", value, "--out", str(out)]) == 2
    assert "--shared-dims" in capsys.readouterr().err and not out.exists()


def test_a_run_with_one_diverged_restart_is_written_and_says_so(npz, tmp_path, capsys):
    # At this seed and rate one of the three restarts diverges (an infinite validation loss,
    # which once crashed the JSON writer, exit 1); the finite restart is kept.
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--lr", "100", "--out", str(out), *FAST]
    assert main(["crl", "train", str(npz), *args]) == 0, capsys.readouterr().err
    assert "1 diverged, a lower --lr may do better" in capsys.readouterr().out
    losses = json.loads((out / "metrics.json").read_text())["restart_val_losses"]
    assert losses.count(None) == 1 and len(losses) == 3
    assert not (tmp_path / ".o.checkpoint.pt").exists()


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--benchmark", "imagenet", "imagenet"),
        ("--methods", "personax,pca", "pca"),
        ("--seeds", "0,x", "--seeds"),
        ("--seeds", "0,,1", "--seeds '0,,1' has an empty item"),
        ("--seeds", ",", "--seeds is empty"),
        ("--methods", "personax,", "--methods 'personax,' has an empty item"),
        ("--max-seconds", "nan", "--max-seconds nan: "),
        ("--shared-dims", "9", "--shared-dims 9 is too many for tabular measurements of 10"),
        ("--mnist-dir", ".", "--mnist-dir applies to the variant-mnist benchmark only"),
        ("--fashion-dir", ".", "--fashion-dir applies to the variant-mnist benchmark only"),
    ],
)
def test_bench_bad_options_exit_2(tmp_path, capsys, option, value, needle):
    out = tmp_path / "b"
    code = main(["bench", "crl", option, value, "--n", "60", "--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "--obs-dim" not in err and not out.exists()


@pytest.mark.parametrize("value", ["0", "one", "-2"])
def test_bad_cross_modal_latents_exit_2(npz, tmp_path, capsys, value):
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--out", str(out), "--cross-modal-latents", value]
    assert main(["crl", "train", str(npz), *args, *FAST]) == 2
    assert "--cross-modal-latents" in capsys.readouterr().err and not out.exists()


def test_cross_modal_latents_all_is_saved_in_the_config(npz, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--latent-dims", "m1=2,m2=2", "--out", str(out), "--cross-modal-latents", "all"]
    assert main(["crl", "train", str(npz), *args, *FAST]) == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["config"]["cross_modal_latents"] is None
    graph = json.loads((out / "graph.json").read_text())
    assert graph["threshold_relative_to"] == "strongest edge"
    strongest = np.abs(np.asarray(graph["adjacency"])).max()
    assert all(abs(e["weight"]) >= graph["threshold"] * strongest for e in graph["edges"])


def test_config_file_reproduces_a_run_and_flags_override_it(npz, tmp_path, capsys):
    first = tmp_path / "first"
    args = ["--latent-dims", "m1=2,m2=2", *FAST, "--noise-dims", "3"]
    assert main(["crl", "train", str(npz), "--out", str(first), *args]) == 0
    saved = first / "config.json"
    assert json.loads(saved.read_text())["config"]["noise_dims"] == 3
    again = tmp_path / "again"
    dims = ["--latent-dims", "m1=2,m2=2"]
    assert main(["crl", "train", str(npz), *dims, "--config", str(saved), "--out", str(again)]) == 0
    assert (again / "latents.csv").read_bytes() == (first / "latents.csv").read_bytes()
    changed = tmp_path / "changed"
    flags = ["--config", str(saved), "--epochs", "1", "--out", str(changed)]
    assert main(["crl", "train", str(npz), *dims, *flags]) == 0, capsys.readouterr().err
    config = json.loads((changed / "config.json").read_text())["config"]
    assert config["epochs"] == 1 and config["noise_dims"] == 3
    # Re-training into the run folder the config came from replaces that run (README).
    flags = ["--config", str(saved), "--out", str(first)]
    assert main(["crl", "train", str(npz), *dims, *flags]) == 0, capsys.readouterr().err
    assert (first / "latents.csv").read_bytes() == (again / "latents.csv").read_bytes()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not a readable JSON"),
        ('{"epochs": "ten"}', "epochs must be int"),
        ('{"epochs": true}', "epochs must be int"),
        ('{"colour": 1}', "Unknown CRL config field(s): colour"),
        ("[1, 2]", "JSON object"),
        # values that used to fail only inside training (exit 1) or at the final write
        ('{"max_seconds": 0}', "max_seconds must be a positive finite number"),
        ('{"weight_decay": -1e-3}', "weight_decay must be a finite number >= 0"),
        ('{"weight_decay": NaN}', "weight_decay must be a finite number >= 0"),
        ('{"ima_rows": 0}', "ima_rows must be at least 1"),
        ('{"patience": 0}', "patience must be at least 1"),
        ('{"min_epochs": -1}', "min_epochs must be >= 0"),
        ('{"temperature": Infinity}', "temperature must be finite"),
    ],
)
def test_bad_config_file_exit_2(npz, tmp_path, capsys, content, needle):
    path = tmp_path / "c.json"
    path.write_text(content)
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--config", str(path), "--out", str(out)]
    assert main(["crl", "train", str(npz), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(path) in err and not out.exists()


def test_network_too_large_for_memory_exits_2(npz, tmp_path, capsys):
    # hidden 10⁷ used to fail with an allocation error (exit 1) when the layers were built
    path = tmp_path / "c.json"
    path.write_text('{"hidden": 10000000}')
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--config", str(path), "--out", str(out)]
    assert main(["crl", "train", str(npz), *args]) == 2
    err = capsys.readouterr().err
    assert "hidden 10000000 with 2 layers" in err and "GiB of memory" in err
    assert not out.exists()


def test_train_refuses_an_out_folder_holding_its_input(npz, tmp_path, capsys):
    run = tmp_path / "run"
    dims = ["--latent-dims", "m1=2,m2=2", *FAST]
    assert main(["crl", "train", str(npz), *dims, "--out", str(run)]) == 0
    inside = run / "mydata.npz"
    inside.write_bytes(npz.read_bytes())
    before = sorted(p.name for p in run.iterdir())
    assert main(["crl", "train", str(inside), *dims, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "holds the input" in err and str(inside) in err
    assert sorted(p.name for p in run.iterdir()) == before


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["crl", "train", "{npz}", "--latent-dims", "m1=2,m2=2", "--seed", "-1"], "--seed"),
        (
            ["data", "crl-synthetic", "--benchmark", "tabular", "--n", "50", "--seed", "-1"],
            "--seed",
        ),
        (["bench", "crl", "--n", "60", "--epochs", "1", "--seeds", "-1"], "--seeds"),
        (["bench", "crl", "--n", "60", "--epochs", "1", "--seeds", "0,0"], "--seeds lists 0"),
        (["bench", "crl", "--n", "60", "--methods", "betavae,betavae"], "--methods lists betavae"),
        (["crl", "train", "{npz}", "--latent-dims", "m1=2,m2=2", "--device", "meta"], "meta"),
        (["crl", "train", "{npz}", "--latent-dims", "m1=2,m2=2", "--device", "xpu"], "xpu"),
        (["bench", "crl", "--n", "60", "--epochs", "1", "--device", "meta"], "meta"),
        (["crl", "encode", "{run}", "{npz}", "--device", "xpu"], "xpu"),
    ],
)
def test_bad_seed_device_and_repeats_exit_2(npz, tmp_path, capsys, command, needle):
    run = tmp_path / "run"
    if "{run}" in command:
        dims = ["--latent-dims", "m1=2,m2=2", *FAST]
        assert main(["crl", "train", str(npz), *dims, "--out", str(run)]) == 0
    out = tmp_path / ("o.csv" if "encode" in command else "o.npz" if "data" in command else "o")
    args = [a.replace("{npz}", str(npz)).replace("{run}", str(run)) for a in command]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("rows", [5, 9, 11])
def test_train_on_too_few_rows_exits_2(tmp_path, capsys, rows):
    small = tmp_path / "small.npz"
    save_crl_dataset(make_tabular(200, seed=0).subset(np.arange(rows)), small)
    out = tmp_path / "o"
    assert main(["crl", "train", str(small), "--latent-dims", "m1=2,m2=2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"has {rows} rows" in err and "at least 12 rows" in err and not out.exists()


def test_a_dataset_of_12_rows_trains_and_its_score_carries_a_warning(tmp_path, capsys):
    small = tmp_path / "small.npz"
    save_crl_dataset(make_tabular(200, seed=0).subset(np.arange(12)), small)
    args = ["--latent-dims", "m1=2,m2=2", "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main(["crl", "train", str(small), *args]) == 0
    # Two test rows: any estimate correlates ±1 with the truth there.
    assert "warning: only 2 test rows" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_test"] == 2 and "only 2 test rows" in metrics["warning"]
    # the size it suggests is the smallest from which on every count has 30 test rows (it
    # said 200, from 30 / 0.15, then 195, though 197 and 198 rows hold only 29)
    assert "give at least 199 rows" in metrics["warning"]


def test_rows_for_test_rows_is_the_smallest_count_from_which_on_every_count_has_them():
    from personax.crl.dataset import rows_for_test_rows, split_indices

    assert rows_for_test_rows(1) == 3  # the fewest rows that split at all
    assert len(split_indices(195, 0)["test"]) == 30 > len(split_indices(197, 0)["test"])
    for wanted in (2, 16, 29, 30, 151):
        n = rows_for_test_rows(wanted)
        assert len(split_indices(n - 1, 5)["test"]) < wanted
        assert all(len(split_indices(m, 5)["test"]) >= wanted for m in range(n, n + 3000))


@pytest.mark.parametrize("method", ["mmcrl", "mcl"])
def test_shared_dims_for_a_baseline_without_them_exits_2(npz, tmp_path, capsys, method):
    # It was dropped without a word: no s_* columns, shared_dims 0 in config.json.
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--method", method, "--shared-dims", "1"]
    assert main(["crl", "train", str(npz), *args, "--out", str(out), *FAST]) == 2
    assert f"--method {method} has no shared latents" in capsys.readouterr().err
    assert not out.exists()


def test_the_scored_graph_is_the_graph_json_lists(npz, tmp_path, capsys):
    # With graph_threshold 1 graph.json kept the strongest edge (|A| >= cut) while
    # metrics.json counted none (|A| > cut).
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"graph_threshold": 1.0}))
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--config", str(config), "--out", str(out), *FAST]
    assert main(["crl", "train", str(npz), *args]) == 0, capsys.readouterr().err
    listed = json.loads((out / "graph.json").read_text())["edges"]
    scored = json.loads((out / "metrics.json").read_text())["graph"]
    assert len(listed) >= 1 and scored["est_edges"] == len(listed)


@pytest.mark.parametrize("rows", ["0", "5"])
def test_bench_with_too_few_rows_exits_2(tmp_path, capsys, rows):
    out = tmp_path / "b"
    assert main(["bench", "crl", "--n", rows, "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--n must be at least 12 rows for the splits, got {rows}" in err and not out.exists()


@pytest.mark.parametrize(
    ("lr", "needle"),
    [
        ("1e12", "Training diverged at epoch 1: no epoch had a finite validation loss; lower --lr"),
        ("inf", "lr must be a positive finite number, got inf"),
    ],
)
def test_diverging_or_infinite_lr_exits_2(npz, tmp_path, capsys, lr, needle):
    config = tmp_path / "c.json"
    config.write_text('{"restarts": 1}')
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--config", str(config), "--lr", lr, "--out", str(out)]
    assert main(["crl", "train", str(npz), *args, *FAST]) == 2
    err = capsys.readouterr().err
    assert needle in err and not out.exists()
    # A refused run leaves no checkpoint behind: resuming it would fail the same way.
    assert not (tmp_path / ".o.checkpoint.pt").exists()


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        # NaN and infinity used to crash (exit 1) only when config.json was written.
        ("--max-seconds", "nan", "--max-seconds nan: CRL config max_seconds must be a positive"),
        ("--max-seconds", "inf", "--max-seconds inf: "),
        ("--max-seconds", "1e400", "--max-seconds inf: "),
        ("--max-seconds", "0", "--max-seconds 0.0: "),
        ("--max-seconds", "-1", "--max-seconds -1.0: "),
        ("--epochs", "0", "--epochs 0: "),
        ("--batch-size", "1", "--batch-size 1: "),
        ("--noise-dims", "-1", "--noise-dims -1: "),
    ],
)
def test_bad_training_flags_are_named_exit_2(npz, tmp_path, capsys, option, value, needle):
    out = tmp_path / "o"
    args = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--out", str(out)]
    assert main([*args, option, value]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not out.exists()


def test_a_folder_where_the_checkpoint_goes_exits_2(npz, tmp_path, capsys):
    (tmp_path / ".o.checkpoint.pt").mkdir()
    out = tmp_path / "o"
    args = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--out", str(out), *FAST]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ".o.checkpoint.pt is a folder" in err and not out.exists()


def test_synthetic_out_that_cannot_be_written_exits_2_before_generating(tmp_path, capsys):
    afile = tmp_path / "existing.npz"
    afile.write_bytes(b"keep")
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    cases = [(afile / "x.npz", "is a file, not a folder"), (folder, "is a folder")]
    for out, needle in cases:
        code = main(["data", "crl-synthetic", "--benchmark", "tabular", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and needle in err, err
    assert afile.read_bytes() == b"keep" and not any(folder.iterdir())


@pytest.mark.parametrize("method", ["personax", "mmcrl", "betavae", "mcl"])
def test_negative_shared_dims_exits_2_for_every_method(npz, tmp_path, capsys, method):
    out = tmp_path / "o"
    args = ["--latent-dims", "m1=2,m2=2", "--method", method, "--shared-dims", "-3"]
    assert main(["crl", "train", str(npz), *args, "--out", str(out), *FAST]) == 2
    assert "--shared-dims must be >= 0, got -3" in capsys.readouterr().err and not out.exists()


def test_train_refuses_a_constant_measurement_before_writing(tmp_path, capsys):
    data = make_tabular(100, seed=0)
    data.measurements["m2"][0] = np.ones_like(data.measurements["m2"][0])
    path = tmp_path / "constant.npz"
    save_crl_dataset(data, path)
    out = tmp_path / "run"
    code = main(["crl", "train", str(path), "--latent-dims", "m1=2,m2=2", "--out", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "'m2.0' is constant on the 70 training rows" in err
    assert not out.exists()


def test_rerun_refuses_a_run_folder_holding_what_other_commands_added(npz, tmp_path, capsys):
    # A re-run used to replace RUN whole, deleting a `crl encode` CSV (or a discover graph)
    # written inside it afterwards.
    run = tmp_path / "run"
    dims = ["--latent-dims", "m1=2,m2=2", *FAST]
    assert main(["crl", "train", str(npz), *dims, "--out", str(run)]) == 0
    encoded = run / "encoded.csv"
    assert main(["crl", "encode", str(run), str(npz), "--out", str(encoded)]) == 0
    before = encoded.read_bytes()
    capsys.readouterr()
    assert main(["crl", "train", str(npz), *dims, "--out", str(run), "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{run}: the folder holds encoded.csv" in err and "Traceback" not in err
    assert encoded.read_bytes() == before
    encoded.unlink()
    assert main(["crl", "train", str(npz), *dims, "--out", str(run), "--seed", "1"]) == 0


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        # --noise-dims 100000 ran out of memory (killed) instead of being refused
        (
            ["--noise-dims", "100000"],
            "--noise-dims 100000 is more than the width 10 of the narrowest measurement of modality",
        ),
        (["--shared-dims", "11"], "--shared-dims 11 is more than the width 10"),
        (
            ["--shared-dims", "11", "--method", "betavae"],
            "--shared-dims 11 is more than the width 10",
        ),
    ],
)
def test_codes_wider_than_the_measurements_exit_2(npz, tmp_path, capsys, extra, needle):
    out = tmp_path / "o"
    args = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--out", str(out), *FAST]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not out.exists()


def test_the_default_noise_size_trains_on_measurements_narrower_than_it(tmp_path, capsys):
    # η of 4 on 3-column measurements is redundant, not an error
    rng = np.random.default_rng(0)
    narrow = tmp_path / "narrow.npz"
    np.savez(
        narrow,
        **{f"a.{k}": rng.normal(size=(60, 3)) for k in range(2)},
        **{"b.0": rng.normal(size=(60, 3))},
    )
    out = tmp_path / "o"
    args = ["crl", "train", str(narrow), "--latent-dims", "a=1,b=1", "--out", str(out), *FAST]
    assert main([*args, "--restarts", "1"]) == 0, capsys.readouterr().err
    assert main([*args, "--noise-dims", "5", "--fresh"]) == 2
    assert "--noise-dims 5 is more than the width 3" in capsys.readouterr().err
