"""`personax crl encode`: a saved model gives back the very latents of its run, for new rows too."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from personax.cli.main import main
from personax.crl.baselines import METHODS, train_method
from personax.crl.config import CRLConfig
from personax.crl.dataset import save_crl_dataset
from personax.crl.encode import encode_dataset, load_crl_model
from personax.crl.train import write_crl_run
from personax.data.crl_synthetic import make_tabular

torch.set_num_threads(1)
DIMS = {"m1": 2, "m2": 2}
TINY = CRLConfig(epochs=2, batch_size=64, restarts=1)


@pytest.fixture(scope="module")
def data():
    return make_tabular(240, seed=3)


@pytest.fixture(scope="module")
def run_dir(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("encode") / "run"
    write_crl_run(train_method("personax", data, DIMS, 1, TINY, seed=5), out)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_encoding_the_training_data_reproduces_latents_csv(data, tmp_path, method):
    out = tmp_path / method
    write_crl_run(train_method(method, data, DIMS, 0, TINY, seed=1), out)
    saved = pd.read_csv(out / "latents.csv").drop(columns="split")
    # The CSV holds 8 significant digits; format the re-encoding the same way.
    again = pd.read_csv(
        io.StringIO(
            encode_dataset(load_crl_model(out), data).to_csv(index=False, float_format="%.8g")
        )
    )
    assert list(again.columns) == list(saved.columns)
    np.testing.assert_array_equal(again.to_numpy(), saved.to_numpy())


def test_a_row_is_encoded_the_same_alone_or_in_a_batch(data, run_dir):
    model = load_crl_model(run_dir / "model.pt")
    everything = encode_dataset(model, data, batch_size=97)
    rows = np.array([5, 0, 239, 17])
    alone = encode_dataset(model, data.subset(rows), batch_size=1)
    np.testing.assert_allclose(alone.to_numpy(), everything.to_numpy()[rows], rtol=1e-6, atol=1e-6)
    assert list(everything.columns) == ["s_0", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]


def test_cli_writes_one_row_per_input_row(data, run_dir, tmp_path, capsys):
    npz = tmp_path / "new.npz"
    save_crl_dataset(make_tabular(50, seed=9), npz)
    out = tmp_path / "latents.csv"
    assert main(["crl", "encode", str(run_dir), str(npz), "--out", str(out)]) == 0
    latents = pd.read_csv(out)
    assert latents.shape == (50, 5) and np.isfinite(latents.to_numpy()).all()
    assert "MCC against the dataset's ground truth" in capsys.readouterr().out


def test_bad_inputs_exit_2_and_write_nothing(data, run_dir, tmp_path, capsys):
    wider = tmp_path / "wider.npz"
    save_crl_dataset(make_tabular(30, seed=0, obs_dim=12), wider)
    fewer = tmp_path / "fewer.npz"
    save_crl_dataset(make_tabular(30, seed=0, measurements=(2, 1)), fewer)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    good = tmp_path / "good.npz"
    save_crl_dataset(data, good)
    out = tmp_path / "out.csv"
    cases = [
        ([str(run_dir), str(wider)], "has 12 columns"),
        ([str(run_dir), str(fewer)], "'m1.2'"),
        ([str(junk), str(good)], "not a personax CRL model"),
        ([str(other), str(good)], "not a personax CRL model"),
        ([str(tmp_path / "absent"), str(good)], "no such model file"),
        ([str(run_dir), str(good), "--batch-size", "0"], "--batch-size"),
    ]
    for args, needle in cases:
        code = main(["crl", "encode", *args, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and "Traceback" not in err, (args, err)
        assert not out.exists()
    assert main(["crl", "encode", str(run_dir), str(good), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_out_over_the_data_the_model_or_the_run_is_refused(data, run_dir, tmp_path, capsys):
    npz = tmp_path / "new.npz"
    save_crl_dataset(make_tabular(30, seed=9), npz)
    # A run written by the CLI carries the output marker: then its model.pt names the run too.
    (run_dir / ".personax-output").write_text("crl-train\n")
    before = {p.name: p.read_bytes() for p in [npz, *run_dir.iterdir()]}
    cases = [
        (run_dir, npz),
        (run_dir, run_dir / "latents.csv"),
        (run_dir, run_dir / "model.pt"),
        (run_dir / "model.pt", run_dir / "latents.csv"),
        (run_dir / "model.pt", tmp_path / ".." / tmp_path.name / "new.npz"),
    ]
    for model, out in cases:
        code = main(["crl", "encode", str(model), str(npz), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and "would overwrite" in err, (model, out, err)
    assert before == {p.name: p.read_bytes() for p in [npz, *run_dir.iterdir()]}


def test_a_new_csv_inside_a_run_folder_is_written_and_can_be_rewritten(
    data, run_dir, tmp_path, capsys
):
    # Only the files the run itself wrote are protected; the user's own file there is not.
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / ".personax-output").write_text("crl-train\n")
    npz = tmp_path / "data.npz"
    save_crl_dataset(data, npz)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    out = run / "encoded.csv"
    for model in (run, run / "model.pt"):  # and a second time over the first one's file
        code = main(["crl", "encode", str(model), str(npz), "--out", str(out)])
        assert code == 0, capsys.readouterr().err
    assert len(out.read_text().splitlines()) == data.n + 1
    assert before == {p.name: p.read_bytes() for p in run.iterdir() if p != out}


def _edited(run_dir, path, edit):
    checkpoint = torch.load(run_dir / "model.pt", weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)
    return path


def _set(key, value):
    return lambda c: c.__setitem__(key, value)


def _first_weight_dropped(c):
    c["state_dict"].pop(next(iter(c["state_dict"])))


def _extra_key(name):
    def edit(c):
        c["standardisation"][name] = c["standardisation"]["m1.0"]

    return edit


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (_set("standardisation", [[0.0], [1.0]]), "standardisation must map"),
        (_extra_key("m1.9"), "standardisation key 'm1.9'"),
        (_extra_key("extra"), "standardisation key 'extra'"),
        (_set("latent_names", ["a", "b"]), "latent_names has 2 names; the model has 5 latents"),
        (_set("latent_dims", [2, 2]), "latent_dims must map"),
        (_set("shared_dims", -1), "shared_dims"),
        (_set("config", {"colour": 1}), "colour"),
        (_first_weight_dropped, "the weights do not fit the saved config: 1 missing"),
    ],
)
def test_malformed_model_file_exits_2_in_one_sentence(
    data, run_dir, tmp_path, capsys, edit, needle
):
    model = _edited(run_dir, tmp_path / "model.pt", edit)
    npz = tmp_path / "d.npz"
    save_crl_dataset(data, npz)
    out = tmp_path / "z.csv"
    assert main(["crl", "encode", str(model), str(npz), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(model) in err and not out.exists(), err
    assert len(err) < 400 and err.count("\n") == 1


def test_encoding_one_row_succeeds_without_the_ground_truth_mcc(data, run_dir, tmp_path, capsys):
    npz = tmp_path / "one.npz"
    save_crl_dataset(data.subset(np.array([7])), npz)
    out = tmp_path / "one.csv"
    assert main(["crl", "encode", str(run_dir), str(npz), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "MCC" not in captured.out and captured.err == ""
    assert pd.read_csv(out).shape == (1, 5)


def test_a_score_that_fails_leaves_no_output(data, run_dir, tmp_path, capsys, monkeypatch):
    # the CSV was written before the ground-truth MCC, so a failing score left it behind exit 2
    import personax.crl.metrics
    from personax.errors import BadInput

    def failing(*_args, **_kwargs):
        raise BadInput("no score")

    monkeypatch.setattr(personax.crl.metrics, "mcc", failing)
    npz = tmp_path / "d.npz"
    save_crl_dataset(data, npz)
    out = tmp_path / "e.csv"
    assert main(["crl", "encode", str(run_dir), str(npz), "--out", str(out)]) == 2
    assert "no score" in capsys.readouterr().err and not out.exists()


def test_a_model_saved_before_per_modality_shared_inference_loads_as_joint(data, tmp_path):
    # Runs with shared latents used the joint s encoder until shared_inference existed; their
    # model.pt has no such field and must rebuild that model, not today's default.
    out = tmp_path / "joint"
    config = TINY.replace(shared_inference="joint")
    write_crl_run(train_method("personax", data, DIMS, 1, config, seed=2), out)
    old = _edited(out, tmp_path / "old.pt", lambda c: c["config"].pop("shared_inference"))
    np.testing.assert_array_equal(
        encode_dataset(load_crl_model(old), data).to_numpy(),
        encode_dataset(load_crl_model(out / "model.pt"), data).to_numpy(),
    )


def test_latents_csv_leads_with_the_dataset_ids_so_explain_joins_by_id(tmp_path, capsys):
    # a table row without an embedding is left out of the dataset: without ids in
    # latents.csv, `crl explain` could only join by row order and refused the counts
    import dataclasses

    ids = np.array([f"p{i:03d}" for i in range(240)])
    with_ids = dataclasses.replace(make_tabular(240, seed=3), ids=ids)
    data_path = tmp_path / "d.npz"
    save_crl_dataset(with_ids, data_path)
    run = tmp_path / "run"
    args = ["crl", "train", str(data_path), "--latent-dims", "m1=2,m2=2", "--epochs", "1"]
    assert main([*args, "--restarts", "1", "--out", str(run)]) == 0
    latents = pd.read_csv(run / "latents.csv", dtype={"id": str})
    assert list(latents.columns[:2]) == ["id", "split"] and latents["id"].tolist() == ids.tolist()
    encoded = tmp_path / "enc.csv"
    assert main(["crl", "encode", str(run), str(data_path), "--out", str(encoded)]) == 0
    again = pd.read_csv(encoded, dtype={"id": str})
    assert again["id"].tolist() == ids.tolist()
    np.testing.assert_array_equal(
        again.drop(columns="id").to_numpy(), latents.drop(columns=["id", "split"]).to_numpy()
    )
    # a table with one extra person (no embedding, so not in the dataset) joins by id
    table = pd.DataFrame({"id": [*ids[::-1], "p999"], "age": np.arange(241.0)})
    table.to_csv(tmp_path / "table.csv", index=False)
    out = tmp_path / "explain"
    explain = ["crl", "explain", str(run / "latents.csv"), "--table", str(tmp_path / "table.csv")]
    assert main([*explain, "--out", str(out)]) == 0, capsys.readouterr().err


def test_encode_refuses_an_output_where_no_file_can_be_made_before_encoding(
    data, run_dir, tmp_path, capsys, monkeypatch
):
    import personax.crl.encode

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the output should have been refused first")

    monkeypatch.setattr(personax.crl.encode, "load_crl_model", must_not_run)
    data_path = tmp_path / "d.npz"
    save_crl_dataset(data, data_path)
    code = main(["crl", "encode", str(run_dir), str(data_path), "--out", "/proc/x.csv"])
    assert code == 2 and "/proc" in capsys.readouterr().err
