"""Training harness: loss goes down, same seed → same bytes, selection on validation only."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from personax.crl.baselines import METHODS, train_method
from personax.crl.config import CRLConfig
from personax.crl.dataset import CRLDataset, split_indices
from personax.crl.metrics import ALL_LATENTS
from personax.crl.train import recovery_of, train_crl, write_crl_run
from personax.data.crl_synthetic import make_tabular
from personax.errors import BadInput

torch.set_num_threads(1)
TINY = CRLConfig(
    hidden=32,
    causal_hidden=8,
    flow_hidden=16,
    flow_transforms=2,
    epochs=6,
    batch_size=64,
    lr=3e-3,
    min_epochs=1,
)
DIMS = {"m1": 2, "m2": 2}


@pytest.fixture(scope="module")
def data() -> CRLDataset:
    return make_tabular(400, seed=0)


@pytest.fixture(scope="module")
def run(data):
    return train_crl(data, DIMS, config=TINY, seed=0)


def test_training_lowers_the_loss(run):
    history = run.history
    assert len(history) == TINY.epochs
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["val_loss"].min() < history["val_loss"].iloc[0]


def test_restarts_keep_the_initialisation_with_the_lowest_validation_loss(data):
    one = train_crl(data, DIMS, config=TINY.replace(restarts=1), seed=0)
    three = train_crl(data, DIMS, config=TINY.replace(restarts=3), seed=0)
    losses = three.metrics["restart_val_losses"]
    assert len(losses) == 3 and len(set(losses)) == 3  # three different starts
    assert losses[0] == pytest.approx(one.history["val_loss"].min())  # restart 0 = one start
    assert three.history["val_loss"].min() == pytest.approx(min(losses))
    with pytest.raises(BadInput, match="restarts"):
        TINY.replace(restarts=0)


@pytest.mark.parametrize(
    ("rule", "shared", "scores_are_losses"),
    [
        ("loss", 0, True),
        ("evidence", 0, False),
        ("auto", 0, True),  # without shared latents: the whole loss
        ("auto", 1, False),  # with them: the evidence
    ],
)
def test_restart_selection_picks_the_lowest_score_of_its_rule(rule, shared, scores_are_losses):
    data = make_tabular(400, seed=0, shared_dims=shared)
    config = TINY.replace(restarts=3, restart_selection=rule)
    run = train_crl(data, DIMS, shared_dims=shared, config=config, seed=0)
    losses, scores = run.metrics["restart_val_losses"], run.metrics["restart_scores"]
    chosen = int(np.argmin(scores))
    assert run.metrics["restart_kept"] == chosen
    # The model kept is the chosen restart's: its best validation loss is the history's.
    assert run.history["val_loss"].min() == pytest.approx(losses[chosen])
    if scores_are_losses:
        assert scores == losses
    else:
        # The evidence part of the loss: smaller than the whole, which adds the training aids.
        assert all(s < v for s, v in zip(scores, losses, strict=True))
    with pytest.raises(BadInput, match="restart_selection"):
        TINY.replace(restart_selection="best")


def test_best_checkpoint_is_the_best_validation_epoch(run):
    history = run.history
    assert run.best_epoch == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert run.metrics["best_epoch"] == run.best_epoch


def test_latents_frame_has_splits_in_input_order(run, data):
    frame = run.latents
    assert list(frame.columns) == ["split", "z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    assert len(frame) == data.n
    splits = split_indices(data.n, 0)
    for name, rows in splits.items():
        assert (frame["split"].to_numpy()[rows] == name).all()
    assert np.isfinite(frame.iloc[:, 1:].to_numpy()).all()


def test_metrics_are_on_the_test_split(run):
    metrics = run.metrics
    assert metrics["split"] == "test" and metrics["n_test"] == len(split_indices(400, 0)["test"])
    assert 0.0 <= metrics["mcc"] <= 1.0 and 0.0 <= metrics["r2"] <= 1.0


def test_learned_graph_is_scored_against_the_true_graph(run):
    scores = run.metrics["graph"]
    assert scores["true_edges"] == 3  # z11 → z12, z11 → z21, z21 → z22
    assert 0 <= scores["shd"] <= 6 and 0.0 <= scores["recall"] <= 1.0


def test_same_seed_same_bytes_and_other_seed_differs(run, data, tmp_path):
    again = train_crl(data, DIMS, config=TINY, seed=0)
    other = train_crl(data, DIMS, config=TINY, seed=1)
    write_crl_run(run, tmp_path / "a")
    write_crl_run(again, tmp_path / "b")
    write_crl_run(other, tmp_path / "c")
    first = (tmp_path / "a" / "latents.csv").read_bytes()
    assert first == (tmp_path / "b" / "latents.csv").read_bytes()
    assert first != (tmp_path / "c" / "latents.csv").read_bytes()
    assert (tmp_path / "a" / "graph.json").read_bytes() == (
        tmp_path / "b" / "graph.json"
    ).read_bytes()


def test_training_uses_the_configured_threads_and_restores_the_count(data, monkeypatch):
    from dataclasses import replace

    import personax.crl.train as train_module

    seen = []
    original = train_module.standardise  # called once per fit, inside it

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "standardise", spy)
    before = torch.get_num_threads()
    train_crl(data, DIMS, config=replace(TINY, epochs=1, restarts=1, threads=2), seed=0)
    assert seen == [2] and torch.get_num_threads() == before
    with pytest.raises(BadInput, match="threads must be at least 1"):
        CRLConfig(threads=0)


def test_the_thread_count_is_read_from_config_given_by_keyword(data, monkeypatch):
    from dataclasses import replace

    import personax.crl.train as train_module
    from personax.crl.model import MultiMeasurementCRL

    seen = []
    original = train_module.standardise

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "standardise", spy)
    config = replace(TINY, epochs=1, restarts=1, threads=2)
    widths = {m: [np.asarray(a).shape[1] for a in data.measurements[m]] for m in DIMS}
    keys = [f"{m}.{k}" for m in DIMS for k in range(len(data.measurements[m]))]
    before = torch.get_num_threads()
    train_module.fit_latent_model(
        build=lambda: MultiMeasurementCRL(widths, DIMS, 0, config),
        dataset=data,
        keys=keys,
        config=config,
        seed=0,
    )
    assert seen == [2] and torch.get_num_threads() == before


def test_test_rows_never_influence_training(data, run):
    """Scrambling the inputs of the test rows changes nothing learned from train/val rows."""
    test = split_indices(data.n, 0)["test"]
    rng = np.random.default_rng(5)
    measurements = {m: [np.array(x, copy=True) for x in xs] for m, xs in data.measurements.items()}
    for xs in measurements.values():
        for x in xs:
            x[test] = rng.normal(size=(len(test), x.shape[1]))
    scrambled = CRLDataset(measurements=measurements, latents=data.latents)
    other = train_crl(scrambled, DIMS, config=TINY, seed=0)
    keep = run.latents["split"] != "test"
    assert other.best_epoch == run.best_epoch
    np.testing.assert_array_equal(
        other.latents[keep].iloc[:, 1:].to_numpy(), run.latents[keep].iloc[:, 1:].to_numpy()
    )


def test_run_folder_has_every_output(data, run, tmp_path):
    out = write_crl_run(run, tmp_path / "run")
    for name in (
        "latents.csv",
        "graph.json",
        "model.pt",
        "config.json",
        "metrics.json",
        "training_curves.png",
        "latents_vs_truth.png",
        "history.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and isinstance(metrics["mcc"], float)
    graph = json.loads((out / "graph.json").read_text())
    assert graph["nodes"] == ["z_m1_0", "z_m1_1", "z_m2_0", "z_m2_1"]
    config = json.loads((out / "config.json").read_text())
    assert CRLConfig.from_dict(config["config"]) == TINY
    checkpoint = torch.load(out / "model.pt", weights_only=False)
    assert checkpoint["latent_names"] == graph["nodes"]
    # The truth kept for the scatter plot is the test rows' own.
    test_rows = run.latents["split"].to_numpy() == "test"
    np.testing.assert_array_equal(run.truth.to_numpy(), np.asarray(data.latents)[test_rows])


def test_a_diverged_restart_is_written_as_null_and_the_finite_one_is_kept(run, tmp_path):
    # A restart whose every epoch diverged has an infinite best validation loss; JSON cannot
    # hold it, and the run (kept from a finite restart) must still be written whole.
    metrics = {**run.metrics, "restart_val_losses": [math.inf, 1.5, math.nan]}
    metrics["restart_scores"] = [np.float64(-math.inf), np.float32(1.5), math.nan]
    out = write_crl_run(dataclasses.replace(run, metrics=metrics), tmp_path / "diverged")
    written = json.loads((out / "metrics.json").read_text())
    assert written["restart_val_losses"] == [None, 1.5, None]
    assert written["restart_scores"] == [None, 1.5, None]
    assert written["mcc"] == pytest.approx(run.metrics["mcc"])


def test_without_ground_truth_there_are_no_metrics(data, tmp_path):
    bare = CRLDataset(measurements=data.measurements)
    result = train_crl(bare, DIMS, config=TINY.replace(epochs=2), seed=0)
    assert result.metrics is None and result.truth is None and len(result.latents) == data.n
    out = write_crl_run(result, tmp_path / "bare")
    assert not (out / "metrics.json").exists() and not (out / "latents_vs_truth.png").exists()


@pytest.mark.parametrize("method", [m for m in METHODS if m != "personax"])
def test_baselines_run_in_the_same_harness(method, data, tmp_path):
    result = train_method(method, data, DIMS, config=TINY.replace(epochs=3), seed=0)
    assert result.method == method
    # Every method writes graph.json (INTERFACES); one without a causal module says it
    # learned none, and is not scored against the true graph as if it had found no edge.
    graph = json.loads((write_crl_run(result, tmp_path / method) / "graph.json").read_text())
    assert graph["nodes"] == list(result.latents.columns[1:])
    assert graph["learned"] is (method == "mmcrl")
    if method != "mmcrl":
        assert graph["edges"] == [] and "learns no graph" in graph["notes"][0]
        assert "graph" not in result.metrics
    assert result.latents.shape == (data.n, 1 + 4)
    assert result.metrics["split"] == "test"
    assert result.best_epoch == int(
        result.history.loc[result.history["val_loss"].idxmin(), "epoch"]
    )
    # The recovery diagnosis reads the method's own blocks: one for the β-VAE's single code.
    blocks = set(result.metrics["recovery"]["r2"])
    assert blocks == (
        {"latents", ALL_LATENTS} if method == "betavae" else {"m1", "m2", ALL_LATENTS}
    )
    # It reuses the run's own Pearson matching; computed afresh it is the same.
    estimated = result.latents.drop(columns=["split"]).to_numpy(dtype=np.float64)
    splits = {name: np.flatnonzero(result.latents["split"] == name) for name in ("train", "test")}
    afresh = recovery_of(data, estimated, splits, list(result.latents.columns[1:]))
    assert afresh == result.metrics["recovery"]


def test_a_modality_named_all_keeps_its_own_recovery_block(data):
    # The union of every latent is a block too; a modality called "all" must not overwrite it.
    rng = np.random.default_rng(0)
    estimated = np.column_stack([data.latents[:, :2], rng.standard_normal((data.n, 2))])
    splits = split_indices(data.n, seed=0)
    out = recovery_of(data, estimated, splits, ["z_m1_0", "z_m1_1", "z_all_0", "z_all_1"])
    assert set(out["r2"]) == {"m1", "all", ALL_LATENTS}
    assert max(out["r2"]["all"]) < 0.2  # the noise block holds nothing
    assert min(out["r2"][ALL_LATENTS][:2]) > 0.8


def test_wrong_latent_dims_and_methods_are_bad_input(data):
    with pytest.raises(BadInput, match="m2"):
        train_crl(data, {"m1": 2}, config=TINY)
    with pytest.raises(BadInput, match="unknown CRL method"):
        train_method("pca", data, DIMS, config=TINY)
    with pytest.raises(BadInput, match="shared"):
        train_crl(data, DIMS, shared_dims=-1, config=TINY)


def test_progress_runs_once_across_all_restarts(data):
    seen = []
    config = TINY.replace(restarts=2, patience=100)
    train_crl(data, DIMS, config=config, seed=0, progress=lambda e, t, row: seen.append((e, t)))
    assert [e for e, _ in seen] == list(range(1, 2 * TINY.epochs + 1))
    assert {t for _, t in seen} == {2 * TINY.epochs}


def test_kl_warm_up_ramps_beta_in_training_but_validation_uses_the_full_beta(data, monkeypatch):
    from personax.crl.model import MultiMeasurementCRL

    seen: list[tuple[bool, float]] = []
    original = MultiMeasurementCRL.loss

    def recording(self, batch, generator):
        seen.append((self.training, self.kl_weight))
        return original(self, batch, generator)

    monkeypatch.setattr(MultiMeasurementCRL, "loss", recording)
    train_crl(data, DIMS, config=TINY.replace(epochs=4, beta_warmup=2, restarts=1), seed=0)
    in_training = sorted({weight for training, weight in seen if training})
    assert in_training == [0.0, 0.5, 1.0]  # epochs 1, 2, then full beta from epoch 3
    assert {weight for training, weight in seen if not training} == {1.0}
    seen.clear()
    train_crl(data, DIMS, config=TINY.replace(epochs=2, beta_warmup=0, restarts=1), seed=0)
    assert {weight for _, weight in seen} == {1.0}
    with pytest.raises(BadInput, match="beta_warmup"):
        TINY.replace(beta_warmup=-1)


def test_the_latent_dims_order_not_the_files_key_order_is_the_causal_order(data):
    # A file storing m2.* before m1.* made m2 the earlier modality, so the true edge
    # z11 → z21 could not exist (index order) and the learned edges all ran m2 → m1.
    reversed_file = CRLDataset(
        measurements={"m2": data.measurements["m2"], "m1": data.measurements["m1"]},
        latents=data.latents,
        latent_names=data.latent_names,
        graph=data.graph,
        latent_modalities=data.latent_modalities,
    )
    assert reversed_file.modalities == ["m2", "m1"]
    config = TINY.replace(restarts=1, epochs=2)
    as_stored = train_crl(data, DIMS, config=config, seed=0)
    from_reversed = train_crl(reversed_file, DIMS, config=config, seed=0)
    pd.testing.assert_frame_equal(as_stored.latents, from_reversed.latents)
    assert as_stored.graph == from_reversed.graph
    # and the order given is the order used
    m2_first = train_crl(data, {"m2": 2, "m1": 2}, config=config, seed=0)
    assert list(m2_first.latents.columns[1:]) == ["z_m2_0", "z_m2_1", "z_m1_0", "z_m1_1"]


def test_an_option_error_names_only_the_value_given():
    # "--batch-size 1" was reported as "got epochs=60, batch_size=1", naming a default
    options = {"batch_size": ("--batch-size", 1), "epochs": ("--epochs", 1)}
    with pytest.raises(
        BadInput, match=r"^--batch-size 1: CRL config batch_size must be at least 2, got 1\.$"
    ):
        CRLConfig().with_options(options)
    with pytest.raises(
        BadInput, match=r"--epochs 0: CRL config epochs must be at least 1, got 0\."
    ):
        CRLConfig().with_options({"epochs": ("--epochs", 0)})


@pytest.mark.parametrize("unit", [1e-9, 1e-30, 1e200])
def test_standardise_is_relative_to_the_measurement_s_magnitude(unit):
    # A measurement recorded in tiny (or huge) units varies as much as in unit ones; an
    # absolute "scale <= 1e-12" called it constant, and 1e200 overflowed the variance.
    from personax.crl.train import standardise

    data = make_tabular(100, seed=0)
    keys, train = ["m2.0"], np.arange(70)
    reference, _ = standardise(data, keys, train)
    data.measurements["m2"][0] = data.measurements["m2"][0].astype(np.float64) * unit
    scaled, _ = standardise(data, keys, train)
    np.testing.assert_allclose(scaled["m2.0"], reference["m2.0"], rtol=1e-5, atol=1e-6)
    data.measurements["m2"][0] = np.full(data.measurements["m2"][0].shape, 3 * unit)
    with pytest.raises(BadInput, match="'m2.0' is constant"):
        standardise(data, keys, train)
